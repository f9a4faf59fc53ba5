import {cutText, errorTextLimit} from '../util/cut-text.js'
import type {JobError, LimitName} from './protocol.js'
import {formatSize} from '../util/units.js'

/** Thrown inside a runner when a limit it enforces itself (console output) is crossed. */
export class LimitExceeded extends Error {
  constructor(
    readonly limit: LimitName,
    message: string,
  ) {
    super(message)
  }
}

/** --max-output. `atLeast`: `bytes` is a lower bound (a sandbox string's length, not copied out). */
export function maxOutputExceeded(bytes: number, max: number, atLeast = false): LimitExceeded {
  return new LimitExceeded('max-output', `result is ${atLeast ? 'at least ' : ''}${bytes} bytes, over --max-output ${max} bytes`)
}

/** `Name: message` of a thrown Error (or error-like object), else the thrown value as JSON. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error || (error && typeof error === 'object' && 'message' in error)) {
    const e = error as {name?: unknown; message?: unknown}
    return `${String(e.name ?? 'Error')}: ${String(e.message)}`
  }
  try {
    return `thrown value: ${JSON.stringify(error) ?? String(error)}`
  } catch {
    return `thrown value: ${String(error)}`
  }
}

export const scriptFilename = (hash: string) => `script-${hash.slice(0, 12)}.js`

/** The script's own stack frames only: runner internals are noise to the user. */
export function scriptStack(error: unknown, filename: string): string | undefined {
  const stack = (error as {stack?: unknown})?.stack
  if (typeof stack !== 'string') return undefined
  const lines = stack.split('\n')
  const head = lines.filter((l) => !/^\s+at /.test(l))
  const frames = lines.filter((l) => /^\s+at /.test(l) && l.includes(filename))
  return [...head, ...frames].join('\n')
}

/** Line and column of a SyntaxError from V8 (the first stack line and the caret line). */
export function syntaxPosition(error: unknown, filename: string): {line?: number; column?: number} {
  const stack = String((error as {stack?: unknown})?.stack ?? '')
  const lines = stack.split('\n')
  const m = new RegExp(`^${filename.replace(/[.]/g, '\\.')}:(\\d+)$`).exec(lines[0] ?? '')
  if (!m) return {}
  const caret = lines[2]?.indexOf('^') ?? -1
  return {line: Number(m[1]), column: caret >= 0 ? caret + 1 : undefined}
}

/**
 * A script's error as a job error, its words under --max-log like its console's: the message
 * and the stack's frames cut to --max-log bytes each. V8's stack starts with the message: that
 * head is taken off before the frames are picked (splitting a 100 MB message into lines costs
 * seconds) and the cut message put back, so burn still finds the message in the stack. Where
 * the error is printed it is cut again, to that output's limit (render.ts).
 */
export function boundedScriptError(message: string, rawStack: unknown, filename: string, maxBytes: number): JobError {
  const max = errorTextLimit(maxBytes)
  const cut = cutText(message, max)
  if (typeof rawStack !== 'string') return {kind: 'script', message: cut}
  const headed = cut !== message && rawStack.startsWith(message)
  const stack = scriptStack({stack: headed ? rawStack.slice(message.length) : rawStack}, filename)
  return {kind: 'script', message: cut, stack: stack === undefined ? undefined : (headed ? cut : '') + cutText(stack, max)}
}

/** What a script threw as a job error: a limit its runner enforced, else its words under --max-log. */
export function thrownError(error: unknown, filename: string, maxLogBytes: number): JobError {
  if (error instanceof LimitExceeded) return {kind: 'limit', limit: error.limit, message: error.message}
  return boundedScriptError(errorMessage(error), (error as {stack?: unknown})?.stack, filename, maxLogBytes)
}

/** The one wording of a --memory breach, whether the quickjs heap cap or the watchdog saw it. */
export const memoryExceededMessage = (bytes: number) => `memory limit exceeded: the script used more than --memory ${formatSize(bytes)}`
