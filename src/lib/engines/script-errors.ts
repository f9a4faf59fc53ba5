import type {LimitName} from './protocol.js'

/** Thrown inside a runner when a limit it enforces itself (console output) is crossed. */
export class LimitExceeded extends Error {
  constructor(readonly limit: LimitName, message: string) {
    super(message)
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
