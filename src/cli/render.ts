import {cutJson, cutText, errorTextLimit} from '../util/cut-text.js'
import {describeError} from '../util/errors.js'
import {writeAllSync} from '../util/write-sync.js'

export interface RenderedError {
  exit: number
  stdout?: string
  stderr?: string
}

/**
 * Error output for every command and the fast path: with --json a JSON object on stdout,
 * otherwise `Error: message` on stderr; the exit code always follows the README's "Exit codes" table.
 * `maxBytes`: the limit of the output it goes to (a script's error carries its own words: `burn
 * run` passes --max-output for --json, --max-log otherwise); its strings are cut to fit.
 */
export function formatError(err: unknown, json: boolean, maxBytes = Infinity): RenderedError {
  const d = describeError(err)
  const max = errorTextLimit(maxBytes)
  if (json) return {exit: d.exit, stdout: cutJson(errorJson(d), max - 1) + '\n'}
  return {exit: d.exit, stderr: `Error: ${cutText(d.message, max - 8)}\n`}
}

/** The --json form of an error, for every command. */
export function errorJson(d: ReturnType<typeof describeError>): {error: Record<string, unknown>} {
  return {error: {code: d.exit, kind: d.kind, message: d.message, ...d.data}}
}

export function renderError(err: unknown, json: boolean, maxBytes?: number): number {
  const r = formatError(err, json, maxBytes)
  // Synchronous and quiet on a reader that went away: the exit code is the error's, not EPIPE's.
  if (r.stdout) writeAllSync(1, r.stdout)
  if (r.stderr) writeAllSync(2, r.stderr)
  return r.exit
}
