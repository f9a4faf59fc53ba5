import {describeError} from '../lib/errors.js'
import {writeAllSync} from '../lib/write-sync.js'

export interface RenderedError {
  exit: number
  stdout?: string
  stderr?: string
}

/**
 * Error output for every command and the fast path: with --json a JSON object on stdout,
 * otherwise `Error: message` on stderr; the exit code always follows DESIGN.md's table.
 */
export function formatError(err: unknown, json: boolean): RenderedError {
  const d = describeError(err)
  return json ? {exit: d.exit, stdout: JSON.stringify(errorJson(d)) + '\n'} : {exit: d.exit, stderr: `Error: ${d.message}\n`}
}

/** The --json form of an error, for every command. */
export function errorJson(d: ReturnType<typeof describeError>): {error: Record<string, unknown>} {
  return {error: {code: d.exit, kind: d.kind, message: d.message, ...d.data}}
}

export function renderError(err: unknown, json: boolean): number {
  const r = formatError(err, json)
  // Synchronous and quiet on a reader that went away: the exit code is the error's, not EPIPE's.
  if (r.stdout) writeAllSync(1, r.stdout)
  if (r.stderr) writeAllSync(2, r.stderr)
  return r.exit
}
