import {renderError} from '../cli/render.js'
import {runViaDaemon} from './daemon/client.js'
import {runDirect} from './direct.js'
import {applyRemoteFlags, parseRunArgv, runRequest, type RunRequest} from './request.js'

/*
 * `burn run` without oclif: loading @oclif/core costs about 90 ms, more than the whole run of
 * a cached script. The flags are the same specs the oclif command uses (spec.ts). Anything
 * unusual (help, a parse error, a missing argument) returns undefined and oclif answers, so
 * usage messages stay oclif's. The arguments are parsed here once, into the request that the
 * run daemon or the run child gets as it is.
 */
export async function fastRun(argv: string[]): Promise<number | undefined> {
  const parsed = parseRunArgv(argv)
  if (!parsed) return undefined
  let req: RunRequest
  try {
    req = runRequest(parsed.ref, parsed.flags)
    applyRemoteFlags(parsed.flags)
  } catch (error) {
    return renderError(error, Boolean(parsed.flags.json))
  }
  // (memo.ts: a memo hit is answered here, before the run daemon is contacted; loaded only for
  // --memo and --idempotency-key, a chunk of its own, so a plain run loads none of it)
  const memoCode = req.memo || req.idempotencyKey !== undefined ? await (await import('./memo.js')).answerFromMemo(req) : undefined
  if (memoCode !== undefined) return memoCode
  const viaDaemon = await runViaDaemon(req)
  if ('code' in viaDaemon) return viaDaemon.code
  return runDirect(req, viaDaemon.stdin)
}
