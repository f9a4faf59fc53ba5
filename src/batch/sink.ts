import {nodeCrypto} from '../util/builtins.js'
import {createWriteStream, unlinkSync} from 'node:fs'
import {rename, rm} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'
import type {Writable} from 'node:stream'
import {syncDir} from '../store/atomic.js'
import {badDataError} from '../util/errors.js'
import {faultPoint, injectedWriteError} from '../util/faults.js'
import type {OutputFormat} from './types.js'

const NEWLINE = Buffer.from('\n')
const COMMA = Buffer.from(',')
const OPEN = Buffer.from('[')
const SMALL_WRITE = 16 * 1024

/**
 * Where the rows go, in order: NDJSON lines, or one JSON array (the exact bytes of
 * `JSON.stringify(allRows)` plus a newline). A file is written as a hidden tmp file next to
 * the target and renamed over it only when the batch succeeds, so a failed or interrupted batch
 * never leaves a half file under the final name (an older file of that name stays as it was).
 * On stdout, rows already written stay written; a reader that goes away (EPIPE, `| head`) is
 * not an error: `closed` turns true and the batch stops.
 */
export class RowSink {
  closed = false
  private started = false
  private waiting?: Promise<void>
  private failure?: Error
  private tmp?: string
  private pending: Uint8Array[] = []
  /** what to call once a piece of `pending` is written (add's `release`) */
  private releases = new Map<Uint8Array, () => void>()
  /** The injected full disk (BURN_FAULT_ENOSPC) has struck: nothing more is written. */
  private full = false

  private constructor(
    private readonly stream: Writable,
    private readonly format: OutputFormat,
    private readonly target: string | undefined,
    onClosed: () => void,
  ) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (!target && (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED')) {
        this.closed = true
        onClosed()
        return
      }
      // the message names the target, not the hidden tmp file
      this.failure ??= target
        ? badDataError(`cannot write --output ${target}: ${error.message.replaceAll(this.tmp ?? '\0', target)}`, {errno: error.code})
        : error
      onClosed()
    })
  }

  static stdout(format: OutputFormat, onClosed: () => void): RowSink {
    return new RowSink(process.stdout, format, undefined, onClosed)
  }

  static file(path: string, format: OutputFormat, onClosed: () => void): RowSink {
    const target = resolve(path)
    const tmp = join(dirname(target), `.${basename(target)}.burn-${process.pid}-${nodeCrypto().randomBytes(4).toString('hex')}.tmp`)
    // flush: the data is fsynced before the close, so the rename publishes complete bytes
    const stream = createWriteStream(tmp, {flags: 'wx', flush: true})
    const sink = new RowSink(stream, format, path, onClosed)
    sink.tmp = tmp
    return sink
  }

  /** The error that stopped the output (not a closed stdout), if any. */
  get error(): Error | undefined {
    return this.failure
  }

  /**
   * One chunk's rows, as the runner sent them: serialized rows joined by '\n' (ndjson) or ','
   * (json). They are kept until `flush`, which writes the chunks finished together.
   */
  add(rows: Uint8Array | string, count: number, release?: () => void): void {
    if (this.closed || this.failure || count === 0) return
    const bytes = typeof rows === 'string' ? Buffer.from(rows) : rows
    if (this.format === 'ndjson') this.pending.push(bytes, NEWLINE)
    else {
      this.pending.push(this.started ? COMMA : OPEN, bytes)
      this.started = true
    }
    if (release) this.releases.set(bytes, release)
  }

  flush(): void {
    if (this.pending.length === 0) return
    const pieces = this.pending
    const {releases} = this
    this.pending = []
    this.releases = new Map()
    if (this.closed || this.failure || this.full) return
    // Piece by piece, not concatenated: a copy of every row would be one more buffer per chunk
    // for burn's main process to allocate and collect. Tiny pieces (small chunks) are joined
    // first, so they are not one write each.
    let bytes = 0
    for (const p of pieces) bytes += p.length
    if (this.target && this.injectFull(pieces, bytes)) return
    let ok = true
    if (bytes <= SMALL_WRITE && pieces.length > 1) {
      ok = this.stream.write(Buffer.concat(pieces, bytes))
      for (const release of releases.values()) release()
    } else {
      for (const p of pieces) {
        // (each release once, even were one buffer added twice)
        const release = releases.get(p)
        releases.delete(p)
        ok = this.stream.write(p, release)
      }
    }
    if (!ok && !this.waiting) {
      this.waiting = new Promise<void>((res) => {
        const done = () => {
          this.stream.off('drain', done)
          this.stream.off('close', done)
          this.waiting = undefined
          res()
        }
        this.stream.on('drain', done)
        this.stream.on('close', done)
      })
    }
  }

  /**
   * BURN_FAULT_ENOSPC (faults.ts) armed for `output`: the first write puts part of its bytes into
   * the tmp file, then fails as on a full disk (the stream's error path, as a real ENOSPC takes).
   */
  private injectFull(pieces: Uint8Array[], length: number): boolean {
    const injected = injectedWriteError('output', length)
    if (!injected) return false
    this.full = true
    this.stream.write(Buffer.concat(pieces, length).subarray(0, injected.after), () => {
      faultPoint('output:partial')
      this.stream.destroy(injected.error)
    })
    return true
  }

  /** Resolves once the output can take more (backpressure from a slow reader or disk). */
  ready(): Promise<void> | undefined {
    return this.waiting
  }

  /**
   * Ends the output. `commit` false (a failed batch): a file is removed; on stdout a JSON array
   * is still closed, so what was written stays a valid document of the rows before the failure.
   */
  async end(commit: boolean): Promise<void> {
    this.flush()
    if (!this.closed && !this.failure && !this.full && this.format === 'json') this.stream.write(this.started ? ']\n' : '[]\n')
    if (!this.target) {
      if (this.closed) return
      await new Promise<void>((res) => (this.stream.writableNeedDrain ? this.stream.once('drain', res).once('close', res) : res()))
      return
    }
    await new Promise<void>((res) => {
      if (this.stream.closed) return res()
      this.stream.once('close', res)
      this.stream.end()
    })
    if (this.failure) commit = false
    if (!commit) {
      await rm(this.tmp!, {force: true})
      if (this.failure) throw this.failure
      return
    }
    try {
      await rename(this.tmp!, resolve(this.target))
    } catch (error) {
      await rm(this.tmp!, {force: true})
      throw badDataError(`cannot write --output ${this.target}: ${(error as Error).message}`)
    }
    await syncDir(dirname(resolve(this.target)))
  }

  /** On a signal: the tmp file goes, synchronously (the process is about to exit). */
  abortSync(): void {
    if (!this.tmp) return
    this.stream.destroy()
    try {
      unlinkSync(this.tmp)
    } catch {
      // already renamed into place, or never created: nothing to remove
    }
  }
}
