import {renderError} from '../cli/render.js'
import {applyRemoteFlags, parseRunArgv, runRequest, type RunRequest} from './request.js'

/**
 * The request of a fast-path `burn run`: undefined when oclif must answer (help, a parse
 * error: its usage messages), the exit code of a bad limit (its error already printed).
 */
export function parsedRequest(argv: string[]): RunRequest | number | undefined {
  const parsed = parseRunArgv(argv)
  if (!parsed) return undefined
  try {
    const req = runRequest(parsed.ref, parsed.flags)
    applyRemoteFlags(parsed.flags)
    return req
  } catch (error) {
    return renderError(error, Boolean(parsed.flags.json))
  }
}
