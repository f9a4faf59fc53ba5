import type {ChildProcess} from 'node:child_process'
import type {Socket} from 'node:net'

/** Sends one frame to the client; false when the client is not keeping up. */
export type Send = (type: 'o' | 'e', data: Buffer) => boolean

/**
 * Relays a runner's stdout and stderr to its client.
 *  - With backpressure: a client that reads slowly makes its runner wait in its writes, as a
 *    direct run's child would, instead of the daemon holding up to --max-output in memory.
 *  - In the order written: the runner writes to two pipes, and this process reads them in
 *    whatever order its event loop sees them, so a result could overtake the console lines
 *    printed before it (visible to a client's `2>&1`). Before each write to stdout the runner
 *    reports where it stands in both (order(): an event on fd 3, sent before the bytes it
 *    describes, so the runner can never block on a stdout nobody reads yet); stdout bytes go
 *    out only once the stderr before them has. stdout with no report (nothing of burn's writes
 *    one) goes out when the runner's stderr ends, so nothing can stall a call.
 */
export class OutputRelay {
  private errSent = 0
  private outSent = 0
  /** From order(): stdout from byte `at` on follows `after` bytes of stderr. Ascending `at`. */
  private readonly marks: Array<{at: number; after: number}> = []
  private readonly held: Buffer[] = []
  private errEnded = false
  private waitingDrain = false
  private onSent?: () => void

  constructor(
    private readonly child: ChildProcess,
    private readonly send: Send,
    private readonly conn: Socket,
  ) {
    const out = child.stdout!
    const err = child.stderr!
    err.on('data', (d: Buffer) => {
      this.errSent += d.length
      if (!this.send('e', d)) {
        err.pause()
        this.conn.once('drain', () => err.resume())
      }
      this.pump()
    })
    const ended = () => {
      this.errEnded = true
      this.pump()
    }
    // (not at the runner's exit: its last stderr may still be in the pipe then)
    err.once('end', ended).once('close', ended)
    out.on('data', (d: Buffer) => {
      this.held.push(d)
      this.pump()
    })
    // A client gone: no drain will come, and the rest is discarded (send() to a closed socket).
    conn.once('close', () => {
      this.waitingDrain = false
      err.resume()
      this.pump()
    })
  }

  /**
   * Resolves once every stdout byte read from the runner has been handed to the socket. The
   * runner's stdout can end while its last chunks are still held here for a slow client (the
   * pipe was paused after its last read), so a call's exit frame waits for this: sent before
   * them, it would end the call with its output cut short.
   */
  sent(): Promise<void> {
    if (this.held.length === 0 && !this.waitingDrain) return Promise.resolve()
    return new Promise((resolve) => (this.onSent = resolve))
  }

  order(stdoutAt: number, stderrBytes: number): void {
    this.marks.push({at: stdoutAt, after: stderrBytes})
    this.pump()
  }

  /** Sends what of the held stdout may go now; keeps the pipe paused while anything is held. */
  private pump(): void {
    const out = this.child.stdout!
    while (this.held.length > 0 && !this.waitingDrain) {
      // The mark in force is the last one at or before the next byte; the one after bounds it.
      while (this.marks.length > 1 && this.marks[1].at <= this.outSent) this.marks.shift()
      const mark = this.marks[0]
      const inForce = mark !== undefined && mark.at <= this.outSent
      if (!this.errEnded && (!inForce || this.errSent < mark.after)) break
      const chunk = this.held[0]
      const until = this.errEnded ? Infinity : (this.marks[1]?.at ?? Infinity) - this.outSent
      const part = until < chunk.length ? chunk.subarray(0, until) : chunk
      if (part === chunk) this.held.shift()
      else this.held[0] = chunk.subarray(until)
      this.outSent += part.length
      if (!this.send('o', part)) {
        this.waitingDrain = true
        this.conn.once('drain', () => {
          this.waitingDrain = false
          this.pump()
        })
      }
    }
    if (this.held.length > 0 || this.waitingDrain) return void out.pause()
    out.resume()
    this.onSent?.()
    this.onSent = undefined
  }
}
