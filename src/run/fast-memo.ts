import {parsedRequest} from './fast-request.js'
import {answerFromMemo} from './memo.js'
import type {RunRequest} from './request.js'

/*
 * `burn run --memo` (or --idempotency-key) first: a hit is a few file reads, so this entry
 * loads only what the answer needs (no socket, no child process, no daemon client, neither
 * node:crypto nor node:v8: README, the `burn run --memo` figures). A miss hands its parsed
 * request on to fastRun.
 */
export async function fastMemo(argv: string[]): Promise<number | RunRequest | undefined> {
  const req = parsedRequest(argv)
  if (req === undefined || typeof req === 'number') return req
  return (await answerFromMemo(req)) ?? req
}
