import {writeSync} from 'node:fs'

/**
 * Writes all of `data` to a file descriptor synchronously, without creating process.stdout (a
 * stream setup a short process does not need). A closed reader (EPIPE) ends the write quietly.
 */
export function writeAllSync(fd: number, data: string | Buffer): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data
  let off = 0
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue
      if ((error as NodeJS.ErrnoException).code === 'EPIPE') return
      throw error
    }
  }
}
