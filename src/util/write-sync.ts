import {writeSync} from 'node:fs'

/** Bytes written through writeAllSync to stdout (1) and stderr (2). */
const written = {1: 0, 2: 0}
let beforeStdout: ((stderrBytes: number, stdoutBytes: number) => void) | undefined

/**
 * Writes all of `data` to a file descriptor synchronously, without creating process.stdout (a
 * stream setup a short process does not need). A closed reader (EPIPE) ends the write quietly.
 */
export function writeAllSync(fd: number, data: string | Buffer): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data
  if (fd === 1 && buf.length > 0) beforeStdout?.(written[2], written[1])
  let off = 0
  while (off < buf.length) {
    try {
      const n = writeSync(fd, buf, off)
      off += n
      if (fd === 1 || fd === 2) written[fd] += n
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue
      if ((error as NodeJS.ErrnoException).code === 'EPIPE') return
      throw error
    }
  }
}

/**
 * Has `hook` called before every write to stdout, with the bytes written so far to stderr and
 * to stdout: a run daemon's runner reports them, so the daemon, which reads the runner's stdout
 * and stderr from two pipes, relays them in the order they were written (daemon/relay.ts).
 */
export function announceStdout(hook: (stderrBytes: number, stdoutBytes: number) => void): void {
  beforeStdout = hook
}
