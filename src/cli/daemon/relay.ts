import type {ChildProcess} from 'node:child_process'
import type {Socket} from 'node:net'
import type {Readable} from 'node:stream'

/** Sends one frame to the client; false when the client is not keeping up. */
export type Send = (type: 'o' | 'e', data: Buffer) => boolean

/**
 * Relays a runner's stdout and stderr to its client.
 *  - With backpressure: a client that reads slowly makes its runner wait in its writes, as a
 *    direct run's child would, instead of the daemon holding up to --max-output in memory.
 *  - In the order written: the runner writes to two pipes, and this process reads them in
 *    whatever order its event loop sees them, so a result could overtake the console lines
 *    printed before it (visible to a client's `2>&1`). stdout is held back until the stderr
 *    the runner says preceded it (stdoutAfter, from its events) has gone out; it is released
 *    when the runner's stderr ends in any case, so a runner that never reports cannot stall
 *    its call.
 */
export class OutputRelay {
  private errSent = 0
  private outAfter = Infinity
  private readonly held: Buffer[] = []

  constructor(private readonly child: ChildProcess, private readonly send: Send, private readonly conn: Socket) {
    const out = child.stdout!
    const err = child.stderr!
    err.on('data', (d: Buffer) => {
      this.errSent += d.length
      this.relay(err, 'e', d)
      this.release()
    })
    out.on('data', (d: Buffer) => {
      if (this.errSent >= this.outAfter) return void this.relay(out, 'o', d)
      this.held.push(d)
      out.pause()
    })
    // (not at the runner's exit: its last stderr may still be in the pipe then)
    err.once('end', () => this.stdoutAfter(0)).once('close', () => this.stdoutAfter(0))
  }

  /** stdout from here on follows the first `stderrBytes` of stderr (the earliest count holds). */
  stdoutAfter(stderrBytes: number): void {
    this.outAfter = Math.min(this.outAfter, stderrBytes)
    this.release()
  }

  private release(): void {
    if (this.errSent < this.outAfter || this.held.length === 0) return
    const out = this.child.stdout!
    let flowing = true
    for (const d of this.held.splice(0)) flowing = this.relay(out, 'o', d) && flowing
    if (flowing) out.resume()
  }

  private relay(stream: Readable, type: 'o' | 'e', d: Buffer): boolean {
    if (this.send(type, d)) return true
    stream.pause()
    this.conn.once('drain', () => stream.resume())
    return false
  }
}
