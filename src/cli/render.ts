import {describeError} from '../lib/errors.js'

/**
 * Error output for every command and the fast path: with --json a JSON object on stdout,
 * otherwise `Error: message` on stderr; the exit code always follows DESIGN.md's table.
 */
export function renderError(err: unknown, json: boolean): number {
  const d = describeError(err)
  if (json) {
    process.stdout.write(JSON.stringify({error: {code: d.exit, kind: d.kind, message: d.message, ...d.data}}) + '\n')
  } else {
    process.stderr.write(`Error: ${d.message}\n`)
  }
  return d.exit
}
