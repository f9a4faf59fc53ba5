import {BurnError} from '../util/errors.js'
import type {ExitKind} from '../util/exit-codes.js'
import type {JobError} from './protocol.js'

/** The exit kind of each engine error, on every path (run, batch, register). */
const EXIT_KIND: Record<JobError['kind'], ExitKind> = {
  compile: 'compile',
  script: 'scriptError',
  limit: 'limit',
  badData: 'badData',
  sourceDamaged: 'store',
  internal: 'internal',
}

/**
 * A failed job as the BurnError the user sees (exit code, message, --json data), the one
 * mapping. A stored script's call (`{hash}`: run, batch) speaks of the script; a register's
 * compile (`{file}`) puts the file first, `file:line:column` for a syntax error.
 */
export function engineError(e: JobError, subject: {hash: string} | {file: string}): BurnError {
  return 'file' in subject ? fileError(e, subject.file) : scriptError(e, subject.hash)
}

function scriptError(e: JobError, hash: string): BurnError {
  const kind = EXIT_KIND[e.kind]
  switch (e.kind) {
    case 'script': {
      const text = e.stack && e.stack.includes(e.message) ? e.stack : `${e.message}${e.stack ? `\n${e.stack}` : ''}`
      return new BurnError(kind, text, {hash, message: e.message, stack: e.stack})
    }
    case 'limit':
      return new BurnError(kind, e.message, {hash, limit: e.limit})
    case 'compile': {
      const at = e.line ? ` (line ${e.line}${e.column ? `, column ${e.column}` : ''})` : ''
      return new BurnError(kind, `${e.message}${at}`, {hash, line: e.line, column: e.column})
    }
    case 'sourceDamaged':
      return new BurnError(kind, `${e.message}; it was set aside: run \`burn verify\` and register the script again`, {hash})
    case 'internal':
      return new BurnError(kind, `internal error (a bug in burn): ${e.message}`, {hash})
    default:
      return new BurnError(kind, e.message, {hash})
  }
}

function fileError(e: JobError, file: string): BurnError {
  const kind = EXIT_KIND[e.kind]
  switch (e.kind) {
    case 'compile': {
      const where = e.line === undefined ? file : `${file}:${e.line}${e.column === undefined ? '' : `:${e.column}`}`
      return new BurnError(kind, `${where}: ${e.message}`, {file, line: e.line, column: e.column})
    }
    case 'script':
      return new BurnError(kind, `${file}: ${e.message}${e.stack ? `\n${e.stack}` : ''}`, {file})
    case 'limit':
      return new BurnError(kind, `${file}: ${e.message}`, {file, limit: e.limit})
    default:
      return new BurnError(kind, `${file}: ${e.message}`, {file})
  }
}
