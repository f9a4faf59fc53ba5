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
      const n = writeSync(fd, buf, off)
      off += n
      if (fd === 2) stderrWritten += n
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue
      if ((error as NodeJS.ErrnoException).code === 'EPIPE') return
      throw error
    }
  }
}

let stderrWritten = 0

/**
 * Bytes this process wrote to stderr through writeAllSync: a run daemon's runner reports it
 * with its events, so the daemon, which reads the runner's stdout and stderr from two pipes,
 * relays them in the order they were written (run-supervisor.ts).
 */
export function stderrBytes(): number {
  return stderrWritten
}
