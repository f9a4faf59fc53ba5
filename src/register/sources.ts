import {stat} from 'node:fs/promises'
import {BurnError, notFoundError, usageError} from '../util/errors.js'
import {readRegular} from '../util/read-regular.js'
import {formatSize} from '../util/units.js'

export interface SourceInput {
  file: string
  read: () => Promise<Uint8Array>
}

const GLOB_CHARS = /[*?[\]{}]/

/**
 * The largest source `register` reads unless --max-source says more: far above any real script
 * (the largest bundled example, TypeScript's compiler, is about 9 MB), and small enough that a
 * wrong argument (/dev/zero, a disk image) ends at once instead of filling memory and disk.
 */
export const DEFAULT_MAX_SOURCE = 64 * 1024 * 1024

export function sourceTooLarge(file: string, maxBytes: number): BurnError {
  return new BurnError(
    'limit',
    `${file} is larger than the source size limit of ${formatSize(maxBytes)}; pass --max-source with a larger size to register it`,
    {file, limit: 'source', maxBytes},
  )
}

/**
 * Expands register's arguments: `-` is stdin, a pattern with glob characters is expanded by
 * tinyglobby (no match is an error: a CI warm-up that registers nothing should fail loudly),
 * anything else is a file path. Duplicates are kept once, in argument order.
 */
export async function expandSources(
  args: string[],
  readStdin: () => Promise<Uint8Array>,
  maxBytes = DEFAULT_MAX_SOURCE,
): Promise<SourceInput[]> {
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
      out.push({file: f, read: () => readSourceFile(f, maxBytes)})
    }
  }
  return out
}

/** A source file: a regular file only (a FIFO or a device could block or never end), at most maxBytes. */
async function readSourceFile(file: string, maxBytes: number): Promise<Uint8Array> {
  try {
    return await readRegular(file, {follow: true, maxBytes})
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    if (e.code === 'ENOENT') throw notFoundError(`file not found: ${file}`, {file})
    if (e.code === 'EISDIR') throw usageError(`${file} is a directory; pass files or a glob such as '${file}/*.js'`, {file})
    if (e.code === 'EFTYPE') throw usageError(`${e.message}; pass a script file, or - to read one from stdin`, {file})
    if (e.code === 'EFBIG') throw sourceTooLarge(file, maxBytes)
    throw new BurnError('badData', `cannot read ${file}: ${e.message}`, {file})
  }
}
