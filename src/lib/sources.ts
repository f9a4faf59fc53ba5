import {readFile, stat} from 'node:fs/promises'
import {BurnError, notFoundError, usageError} from './errors.js'

export interface SourceInput {
  file: string
  read: () => Promise<Uint8Array>
}

const GLOB_CHARS = /[*?[\]{}]/

/**
 * Expands register's arguments: `-` is stdin, a pattern with glob characters is expanded by
 * tinyglobby (no match is an error: a CI warm-up that registers nothing should fail loudly),
 * anything else is a file path. Duplicates are kept once, in argument order.
 */
export async function expandSources(args: string[], readStdin: () => Promise<Uint8Array>): Promise<SourceInput[]> {
  if (args.length === 0) throw usageError('no files given: pass files, globs, or - for stdin')
  if (args.filter((a) => a === '-').length > 1) throw usageError('stdin (-) can be given only once')
  const seen = new Set<string>()
  const out: SourceInput[] = []
  for (const arg of args) {
    if (arg === '-') {
      out.push({file: '<stdin>', read: readStdin})
      continue
    }
    let files = [arg]
    if (GLOB_CHARS.test(arg) && !(await stat(arg).catch(() => undefined))) {
      const {glob} = await import('tinyglobby')
      files = (await glob(arg, {onlyFiles: true, expandDirectories: false})).sort()
      if (files.length === 0) throw notFoundError(`no file matches ${arg}`)
    }
    for (const f of files) {
      if (seen.has(f)) continue
      seen.add(f)
      out.push({file: f, read: () => readSourceFile(f)})
    }
  }
  return out
}

async function readSourceFile(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file)
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    if (e.code === 'ENOENT') throw notFoundError(`file not found: ${file}`, {file})
    if (e.code === 'EISDIR') throw usageError(`${file} is a directory; pass files or a glob such as '${file}/*.js'`, {file})
    throw new BurnError('badData', `cannot read ${file}: ${e.message}`, {file})
  }
}
