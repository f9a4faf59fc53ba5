import {runViaDaemon} from './daemon/client.js'
import {runDirect} from './direct.js'
import {parsedRequest} from './fast-request.js'
import type {RunRequest} from './request.js'

/*
 * `burn run` without oclif: loading @oclif/core costs about 90 ms, more than the whole run of
 * a cached script. The flags are the same specs the oclif command uses (spec.ts). Anything
 * unusual (help, a parse error, a missing argument) returns undefined and oclif answers, so
 * usage messages stay oclif's. The arguments are parsed once, into the request that the run
 * daemon or the run child gets as it is; a `--memo` call that missed (fast-memo.ts) hands its
 * request on.
 */
export async function fastRun(argv: string[], made?: RunRequest): Promise<number | undefined> {
  const req = made ?? parsedRequest(argv)
  if (req === undefined || typeof req === 'number') return req
  // (a memo hit was looked for already: bin/run.js sends every call that names --memo or
  // --idempotency-key, the only spellings the parser takes, to fast-memo.ts first; and the run
  // child looks again under the key's lock in any case)
  const viaDaemon = await runViaDaemon(req)
  if ('code' in viaDaemon) return viaDaemon.code
  return runDirect(req, viaDaemon.stdin)
}
