import {EXIT, type ExitKind} from './exit-codes.js'

/**
 * Every expected failure of the library is a BurnError: a kind that picks the exit code,
 * a message that says what to do next, and optional data that `--json` prints as is.
 */
export class BurnError extends Error {
  readonly kind: ExitKind
  readonly data: Record<string, unknown>

  constructor(kind: ExitKind, message: string, data: Record<string, unknown> = {}) {
    super(message)
    this.name = 'BurnError'
    this.kind = kind
    this.data = data
  }

  get exitCode(): number {
    return EXIT[this.kind]
  }

  /** The exit code the CLI gives this error (README, "Exit codes"): the public API's name for it. */
  get code(): number {
    return EXIT[this.kind]
  }
}

export const usageError = (msg: string, data?: Record<string, unknown>) => new BurnError('usage', msg, data)
export const notFoundError = (msg: string, data?: Record<string, unknown>) => new BurnError('notFound', msg, data)
export const storeError = (msg: string, data?: Record<string, unknown>) => new BurnError('store', msg, data)
export const badDataError = (msg: string, data?: Record<string, unknown>) => new BurnError('badData', msg, data)

/** Maps any thrown value to {exit, message, data}: unknown errors are bugs (exit 1). */
export function describeError(err: unknown): {exit: number; kind: string; message: string; data: Record<string, unknown>} {
  if (err instanceof BurnError) return {exit: err.exitCode, kind: err.kind, message: err.message, data: err.data}
  const e = err as NodeJS.ErrnoException
  // Filesystem failures inside the store are store problems, not bugs.
  if (e && typeof e.code === 'string' && STORE_ERRNOS.has(e.code)) {
    return {exit: EXIT.store, kind: 'store', message: `store problem: ${e.message}`, data: {errno: e.code}}
  }
  return {exit: EXIT.internal, kind: 'internal', message: `internal error (a bug in burn): ${e?.stack ?? String(err)}`, data: {}}
}

const STORE_ERRNOS = new Set([
  'EACCES',
  'EPERM',
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'ENOTDIR',
  'EISDIR',
  'EEXIST',
  'ELOOP',
  'EFTYPE',
  'EIO',
  'EMFILE',
  'ENFILE',
])
