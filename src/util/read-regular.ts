import {closeSync, constants, fstatSync, openSync, readSync, type Stats} from 'node:fs'
import {bytesAtLeast} from './scratch.js'

/*
 * The one way burn reads a file of its store (and a source given to `register`). Opened with
 * O_NONBLOCK, so a FIFO planted where a file belongs opens at once instead of waiting for a
 * writer forever, and O_NOFOLLOW, so a symbolic link is never followed (ELOOP); then fstat, and
 * anything but a regular file (a FIFO, socket or device) is refused before one byte is read.
 * Errors keep an errno code: ENOENT (missing), ELOOP (a symlink), EISDIR, EFTYPE (not a regular
 * file), EFBIG (over `maxBytes`), so each caller decides between a miss, damage or exit 8.
 */
export interface ReadOptions {
  /** Follow a symbolic link (a user's own file given to `register`); never for store files. */
  follow?: boolean
  /** Refuse a file larger than this (EFBIG) without reading it. */
  maxBytes?: number
}

const flags = (opts: ReadOptions) => constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (opts.follow ? 0 : (constants.O_NOFOLLOW ?? 0))

/**
 * The same, for promise code: store files are small and in the page cache, so one synchronous
 * open/fstat/read is cheaper than a trip through the thread pool; and it cannot block on a FIFO.
 */
export async function readRegular(path: string, opts: ReadOptions = {}): Promise<Buffer> {
  return readRegularSync(path, opts)
}

/**
 * `into`: a buffer to read into, replaced by a larger one (with room to spare) when the file
 * does not fit, and a view of it returned: a caller reading many files one after another then
 * touches no new memory, which costs more than the reading on some machines (~10 us a page).
 * `upTo`: read at most this many bytes (a header).
 */
export function readRegularSync(path: string, opts: ReadOptions & {into?: {buf: Buffer}; upTo?: number} = {}): Buffer {
  let fd: number
  try {
    fd = openSync(path, flags(opts))
  } catch (error) {
    throw explain(error as NodeJS.ErrnoException, path)
  }
  try {
    const st = fstatSync(fd)
    refuse(path, st, opts)
    const size = Math.min(st.size, opts.upTo ?? Infinity)
    const {into} = opts
    if (into) into.buf = bytesAtLeast(into.buf, size)
    const buf = into ? into.buf.subarray(0, size) : Buffer.allocUnsafe(size)
    let off = 0
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off)
      if (n === 0) break
      off += n
    }
    return off === buf.length ? buf : buf.subarray(0, off)
  } finally {
    closeSync(fd)
  }
}

/** The error says a file is there but is no regular file (damage where a store file belongs). */
export function notRegular(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code
  return code === 'EFTYPE' || code === 'ELOOP' || code === 'EISDIR'
}

/** What a non-regular file is, in words. */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO'
  if (st.isSocket()) return 'a socket'
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device'
  if (st.isDirectory()) return 'a directory'
  if (st.isSymbolicLink()) return 'a symbolic link'
  return 'not a regular file'
}

function refuse(path: string, st: Stats, opts: ReadOptions): void {
  if (st.isDirectory()) throw coded('EISDIR', `${path} is a directory`, path)
  if (!st.isFile()) throw coded('EFTYPE', `${path} is ${fileKind(st)}, not a regular file`, path)
  if (opts.maxBytes !== undefined && st.size > opts.maxBytes)
    throw coded('EFBIG', `${path} is ${st.size} bytes, over ${opts.maxBytes}`, path)
}

function explain(e: NodeJS.ErrnoException, path: string): NodeJS.ErrnoException {
  // O_NOFOLLOW on a symbolic link fails with ELOOP ("too many symbolic links"): say what it is.
  if (e.code === 'ELOOP') return coded('ELOOP', `${path} is a symbolic link; burn does not follow links in its store`, path)
  return e
}

function coded(code: string, message: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), {code, path})
}
