import {notFoundError} from '../util/errors.js'
import type {Job, JobResult} from '../engines/protocol.js'
import type {EngineName} from '../engines/tag.js'
import type {RunnerPool} from '../runners/pool.js'
import {resultCounters, settleResult} from '../store/outcome.js'
import type {Counters} from '../store/stats/stats.js'
import {exists, type Store} from '../store/store.js'
import {chunkError, type ChunkPlace} from './chunk-error.js'
import type {BatchMemo} from './memo/batch-memo.js'
import {MEMO_CLOCK_MS} from '../store/results/key.js'
import type {RowSource} from './input.js'
import type {BatchOptions, BatchSummary, Chunk} from './types.js'

/** The script a batch runs: resolved, its engine chosen, its directories checked. */
export interface Script {
  hash: string
  engine: EngineName
  tag: string
  sourcePath: string
  compiledPath: string
}

/** Where the rows go, in order (a RowSink; something simpler in unit tests). */
export interface RowOutput {
  readonly closed: boolean
  /** `release`, if given, is called once `rows` are written (their buffer may then be filled again). */
  add(rows: Uint8Array | string, count: number, release?: () => void): void
  flush(): void
  ready(): Promise<void> | undefined
}

/** What the batch has counted so far: runBatch reads it once the batch ends, however it ends. */
export interface Tally {
  summary: BatchSummary
  counters: Counters
  /** Cache repairs and compiled-code saves the results asked for, awaited before burn exits. */
  settling: Array<Promise<void>>
}

export interface PipelineParts<Out extends RowOutput> {
  store: Store
  opts: BatchOptions
  script: Script
  runners: Pick<RunnerPool, 'exec' | 'close'>
  source: Pick<RowSource, 'chunks' | 'close' | 'path'>
  /** Opens the output; it calls `onClosed` when it can take no more (closed stdout, write error). */
  openOutput: (onClosed: () => void) => Out
  tally: Tally
  /** When the batch started (performance.now()), for progress reports. */
  t0: number
  /** --memo: rows stored by earlier batches are not run again (memo.ts). */
  memo?: BatchMemo
}

/** A chunk that has run, waiting for its turn to be written. */
interface Done {
  place: ChunkPlace
  result: JobResult
  /** The script's source vanished (forget or gc ran during the batch). */
  removed?: boolean
  /** --memo: rows of the chunk written from the store. */
  reused?: number
  /** --memo: called once the result's bytes are written (memo/batch-memo.ts) */
  release?: () => void
}

/**
 * The running part of `burn batch`, once the script and the input are open. Three kinds of
 * task share the state below: one reader takes chunks from the input into `queue`, workers run
 * them on the runners and file their results in `done`, and `drain` (after every result) writes
 * the results that are next in input order. Memory is bounded: at most `window` chunks are read
 * and not yet written (a chunk waiting for an earlier, slower one counts), and nothing more is
 * read while the output applies backpressure. `stop` ends it early, for good.
 */
export class ChunkPipeline<Out extends RowOutput = RowOutput> {
  /** The error that ends the batch: the first one wins. */
  fatal?: Error
  readonly out: Out
  private stopped = false
  private readonly pulse = new Pulse()
  private readonly window: number
  private readonly workers: number
  private readonly rowSeparator: string
  private readonly queue: Chunk[] = []
  private readonly done = new Map<number, Done>()
  private read = 0
  private written = 0
  /** How many chunks the input had, once the reader is done. */
  private inputEnd: number | undefined
  /** The input broke after `inputEnd` chunks: they are still written, then it ends the batch. */
  private inputError: Error | undefined
  // Under fail, nothing after a chunk known to have failed is started (earlier ones still finish).
  private failedAt = Infinity
  private lastProgress = 0

  constructor(private readonly parts: PipelineParts<Out>) {
    this.out = parts.openOutput(() => this.stop())
    this.window = parts.opts.concurrency * 6 + 2
    // (--memo: a worker per chunk in flight, as chunks mostly found cost their runners little and
    // their rows not found go to the runners together: memo.ts)
    this.workers = parts.memo ? this.window : parts.opts.concurrency * 2
    this.rowSeparator = parts.opts.output.format === 'json' ? ',' : '\n'
  }

  /** Runs every chunk and writes what can be written; the output is left for the caller to end. */
  async run(): Promise<void> {
    // two workers per runner (the pool, depth 2, queues each runner's next chunk behind its
    // current one); under --memo one per chunk in flight
    await Promise.all([this.reader(), ...Array.from({length: this.workers}, () => this.worker())])
    if (!this.stopped) {
      this.drain()
      if (!this.fatal && this.inputError && this.written === this.inputEnd) this.fatal = this.inputError
    }
  }

  stop(error?: Error): void {
    if (error && !this.fatal) this.fatal = error
    if (this.stopped) return
    this.stopped = true
    this.parts.source.close()
    // Chunks still running can only come after what is written: their runners go now, so a
    // closed stdout or a failure ends the batch at once, not after the slowest chunk.
    this.parts.runners.close()
    this.pulse.wake()
  }

  // The reader runs ahead of the runners (up to `window` chunks not yet written), so a runner
  // that finishes a chunk gets the next one at once: reading after each job left the runners
  // idle half of the time.
  private async reader(): Promise<void> {
    for (;;) {
      await this.room()
      if (this.stopped || this.read > this.failedAt) break
      let r: IteratorResult<Chunk>
      try {
        r = await this.parts.source.chunks.next()
      } catch (error) {
        // the input is broken from here on: what came before is still written, then exit 7
        this.inputError = error as Error
        break
      }
      if (r.done) break
      this.read++
      // (now, while the chunk's bytes are those read: the source reads over them next)
      this.parts.memo?.prepare(r.value, this.parts.source.path !== undefined)
      this.queue.push(r.value)
      this.pulse.wake()
    }
    this.inputEnd = this.read
    this.drain()
  }

  /** Waits until the output takes more and fewer than `window` chunks are read and not written. */
  private async room(): Promise<void> {
    for (;;) {
      if (this.stopped) return
      const backpressure = this.out.ready()
      if (backpressure) await Promise.race([backpressure, this.pulse.next()])
      else if (this.read - this.written >= this.window) await this.pulse.next()
      else return
    }
  }

  private async worker(): Promise<void> {
    for (;;) {
      const chunk = await this.take()
      if (!chunk) return
      if (chunk.index > this.failedAt) {
        this.parts.memo?.skip(chunk.index)
        continue
      }
      const {opts, script} = this.parts
      const place = {index: chunk.index, firstRow: chunk.firstRow, rows: chunk.rows}
      const {result, reused, release} = await this.execute(chunk)
      // a runner that could not read the script: was it removed meanwhile?
      const removed = !result.ok && result.error.kind === 'internal' && !(await exists(script.sourcePath))
      if (!result.ok && (opts.onError === 'fail' || removed)) this.failedAt = Math.min(this.failedAt, chunk.index)
      this.done.set(chunk.index, {place, result, removed, reused, release})
      this.drain()
    }
  }

  /** The next chunk read; undefined once the input is done or the batch stopped. */
  private async take(): Promise<Chunk | undefined> {
    for (;;) {
      if (this.stopped) return undefined
      const c = this.queue.shift()
      if (c) return c
      if (this.inputEnd !== undefined) return undefined
      await this.pulse.next()
    }
  }

  private async execute(chunk: Chunk): Promise<{result: JobResult; reused?: number; release?: () => void}> {
    const {memo, runners, source} = this.parts
    if (!memo) return {result: normalize(await runners.exec(this.jobFor(chunk, this.rowSeparator)), this.rowSeparator)}
    // (a whole chunk of a regular file is read by its runner, as without --memo)
    const exec = async (c: Chunk, separator: string, whole: boolean) =>
      normalize(await runners.exec(this.jobFor(whole && source.path ? {...c, bytes: undefined} : c, separator)), separator)
    return memo.chunk(chunk, exec)
  }

  private jobFor(chunk: Chunk, rowSeparator: string): Job {
    const {script, opts} = this.parts
    return {
      op: 'run',
      engine: script.engine,
      tag: script.tag,
      hash: script.hash,
      sourcePath: script.sourcePath,
      compiledPath: script.compiledPath,
      input: '',
      limits: opts.limits,
      rows: true,
      rowsIn: chunk.format,
      rowCount: chunk.rows,
      firstLine: chunk.firstLine,
      rowSeparator,
      // (under --memo a quickjs call reads a fixed clock, as `run --memo`'s: store/results/key.ts)
      ...(opts.memo && script.engine === 'quickjs' ? {clock: MEMO_CLOCK_MS} : {}),
      ...(chunk.bytes
        ? {inputBytes: chunk.bytes}
        : {
            inputRange: {
              path: this.parts.source.path!,
              offset: chunk.offset,
              length: chunk.length,
              ...(chunk.format === 'json' ? {prefix: '[', suffix: ']'} : {}),
            },
          }),
    }
  }

  /** Writes the chunks that are next in input order, as far as they have run. */
  private drain(): void {
    for (;;) {
      if (this.stopped) return
      const d = this.done.get(this.written)
      if (!d) break
      this.done.delete(this.written)
      if (!this.write(d)) return
      this.written++
    }
    this.out.flush()
    if (this.inputError && this.written === this.inputEnd) this.stop(this.inputError)
    this.progress()
    this.pulse.wake()
  }

  /** One chunk, in its turn: its rows out, its counts in the tally. False: it ended the batch. */
  private write({place, result, removed, reused, release}: Done): boolean {
    const {store, script, opts, tally} = this.parts
    const {hash, tag} = script
    if (removed) {
      // a clean miss (exit 3), whatever --on-error says: no later chunk could run either
      this.out.flush()
      this.stop(
        notFoundError(`script ${hash} was removed while the batch was running (burn forget or gc); register it again`, {
          hash,
          chunk: place.index + 1,
        }),
      )
      return false
    }
    tally.counters = addCounters(tally.counters, resultCounters(result, 'batch.chunks'))
    if (result.cache === 'corrupt' || result.cachedData || (!result.ok && result.error.kind === 'sourceDamaged')) {
      tally.settling.push(settleResult(store, {hash, tag, result}).catch(() => {}))
    }
    tally.summary.chunks++
    tally.summary.rowsIn += place.rows
    if (tally.summary.rowsReused !== undefined) {
      tally.summary.rowsReused += reused ?? 0
      tally.summary.rowsComputed! += place.rows - (reused ?? 0)
    }
    if (result.ok) {
      const rows = result.rows ?? 0
      this.out.add(result.outputBytes ?? result.output ?? '', rows, release)
      tally.summary.rowsOut += rows
      return true
    }
    const err = chunkError(result.error, place, hash)
    tally.summary.chunksFailed++
    if (opts.onError === 'fail') {
      this.out.flush()
      this.stop(err)
      return false
    }
    if (opts.onError === 'emit') opts.onChunkError?.(err)
    return true
  }

  private progress(): void {
    const {onProgress} = this.parts.opts
    const now = performance.now()
    if (onProgress && now - this.lastProgress > 100) {
      this.lastProgress = now
      onProgress({...this.parts.tally.summary, elapsedMs: now - this.parts.t0})
    }
  }
}

/** Tasks waiting for something to change wait for the next pulse: any chunk read or written, or the batch stopping. */
class Pulse {
  private pending: {promise: Promise<void>; resolve: () => void} | undefined

  next(): Promise<void> {
    if (!this.pending) {
      let resolve!: () => void
      const promise = new Promise<void>((res) => (resolve = res))
      this.pending = {promise, resolve}
    }
    return this.pending.promise
  }

  wake(): void {
    const p = this.pending
    this.pending = undefined
    p?.resolve()
  }
}

export function addCounters(a: Counters, b: Counters): Counters {
  const out = {...a}
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v
  return out
}

/**
 * An engine that answers a rows job with the whole array serialized (no `rows` count) is
 * accepted too: its output is split back into one line per element here.
 */
function normalize(r: JobResult, separator: string): JobResult {
  if (!r.ok || r.rows !== undefined) return r
  let value: unknown
  try {
    value = JSON.parse(r.output ?? Buffer.from(r.outputBytes ?? []).toString('utf8'))
  } catch {
    return {ok: false, error: {kind: 'internal', message: 'the engine returned invalid JSON for a rows job'}}
  }
  if (!Array.isArray(value))
    return {ok: false, error: {kind: 'badData', message: `script must return an array; got ${value === null ? 'null' : typeof value}`}}
  return {...r, output: value.map((v) => JSON.stringify(v) ?? 'null').join(separator), outputBytes: undefined, rows: value.length}
}
