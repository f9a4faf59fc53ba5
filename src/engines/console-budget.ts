import {writeAllSync} from '../util/write-sync.js'
import {LimitExceeded} from './script-errors.js'

/**
 * --max-log for one call, shared by the engines: a script's console output goes to burn's
 * stderr until it passes the limit; then the line is refused and the call fails with max-log,
 * even if the script catches the error (the engine checks `exceeded` after the run).
 */
export class ConsoleBudget {
  exceeded?: LimitExceeded
  private written = 0

  constructor(private readonly maxBytes: number) {}

  /** Counts `bytes` against the limit; throws (and remembers) LimitExceeded once over. */
  charge(bytes: number): void {
    if (this.exceeded) throw this.exceeded
    this.written += bytes
    if (this.written > this.maxBytes) {
      this.exceeded = new LimitExceeded('max-log', `console output exceeded --max-log ${this.maxBytes} bytes`)
      throw this.exceeded
    }
  }

  /**
   * Writes one line; `charged` bytes of it were already counted (a lower bound checked early).
   * A line is counted whether or not anyone reads it: a stderr whose reader went away (`2>&1 |
   * head`) drops the lines (EPIPE), and the call's outcome stays what it is with a reader.
   */
  write(text: string, charged = 0): void {
    this.charge(Buffer.byteLength(text) - charged)
    writeAllSync(2, text)
  }
}
