import type {LimitName} from './protocol.js'

/** Thrown inside a runner when a limit it enforces itself (console output) is crossed. */
export class LimitExceeded extends Error {
  constructor(readonly limit: LimitName, message: string) {
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
