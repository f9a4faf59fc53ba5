import {BurnError, notFoundError} from '../util/errors.js'
import type {RunnerPool} from '../runners/pool.js'
import type {Job, JobResult, Limits} from '../engines/protocol.js'
import {engineTag, type EngineName} from '../engines/tag.js'
import {runTarget} from '../store/engine-trust.js'
import {resultCounters, settleResult} from '../store/outcome.js'
import {recordStats, type Counters} from '../store/stats.js'
import {checkScriptDirs, exists, type Store} from '../store/store.js'
import {chunkError, type ChunkPlace} from './chunk-error.js'
import {DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_ROWS} from '../cli/batch-defaults.js'
import {openRows} from './input.js'
import {RowSink} from './sink.js'
import type {Chunk, InputFormat, OnError, OutputFormat} from './types.js'

/**
 * A runner that grew by more than this since its first chunk is replaced between chunks
 * (RunnerPool, recycleGrowthBytes). Lean runners stay about 15-20 MB above their size after the
 * first chunk (1M rows of bench/batch.mjs: flat at 67-70 MB, no restart), so this only acts on
 * a script whose own state keeps growing. Before lean runners, every runner grew past it a few
 * times per million rows, for 0.15-0.3 s of restarts.
 */
export const RECYCLE_GROWTH_BYTES = 32 * 1024 * 1024

export interface BatchOptions {
  ref: string
  /** --engine; undefined: the script's registered engine (trust.ts). */
  engine?: EngineName
  limits: Limits
  /**
   * Makes the pool (depth 2) for the engine the script resolved to, before the input is
   * opened, so runner startup overlaps opening it.
   */
  pool: (engine: EngineName) => RunnerPool
  concurrency: number
  input: {file?: string; format: 'auto' | InputFormat}
  /** undefined: the measured default; 0: the whole input in one call. */
  chunkSize?: number
  output: {file?: string; format: OutputFormat}
  onError: OnError
  /** --on-error emit: called once per failed chunk, in input order. */
  onChunkError?: (error: BurnError) => void
  onProgress?: (p: BatchProgress) => void
}

export interface BatchProgress {
  rowsIn: number
  rowsOut: number
  chunksFailed: number
  elapsedMs: number
}

export interface BatchSummary extends BatchProgress {
  hash?: string
  engine: EngineName
  inputFormat?: InputFormat
  outputFormat: OutputFormat
  chunkSize: number
  concurrency: number
  chunks: number
  /** stdout was closed by its reader (EPIPE): the batch stopped early, which is not an error. */
  outputClosed: boolean
}

/** The outcome: a summary always, and the error that ended the batch, if one did. */
export interface BatchOutcome {
  summary: BatchSummary
  error?: Error
}

interface Done {
  place: ChunkPlace
  result: JobResult
  /** The script's source vanished (forget or gc ran during the batch). */
  removed?: boolean
}

/**
 * `burn batch`: chunks of rows go to the runners of `pool`, at most `concurrency` at a time,
 * and their results are written strictly in input order. Memory is bounded: at most `window`
 * chunks are read and not yet written (a chunk waiting for an earlier, slower one counts), and
 * nothing more is read while the output applies backpressure.
 */
export async function runBatch(store: Store, opts: BatchOptions): Promise<BatchOutcome> {
  const t0 = performance.now()
  const chunkRows = opts.chunkSize ?? DEFAULT_CHUNK_ROWS
  const summary: BatchSummary = {
    rowsIn: 0,
    rowsOut: 0,
    chunks: 0,
    chunksFailed: 0,
    elapsedMs: 0,
    engine: opts.engine ?? 'v8',
    outputFormat: opts.output.format,
    chunkSize: chunkRows,
    concurrency: opts.concurrency,
    outputClosed: false,
  }
  let counters: Counters = {}
  const settling: Array<Promise<void>> = []
  let hash: string | undefined
  let fatal: Error | undefined
  let sink: RowSink | undefined
  let source: Awaited<ReturnType<typeof openRows>> | undefined
  let pool: RunnerPool | undefined
  const removeSignals = onSignals(() => {
    sink?.abortSync()
    pool?.close()
  })
  try {
    const target = await runTarget(store, opts.ref, opts.engine)
    hash = target.hash
    const {engine} = target
    summary.hash = hash
    summary.engine = engine
    const runners = (pool = opts.pool(engine))
    const tag = engineTag(engine)
    const {layout} = store
    checkScriptDirs(layout, hash, [tag])
    const sourcePath = layout.object(hash)
    const compiledPath = layout.compiled(tag, hash)
    source = await openRows({
      file: opts.input.file,
      format: opts.input.format,
      chunk: {rows: chunkRows, maxBytes: opts.chunkSize === undefined ? DEFAULT_CHUNK_BYTES : Infinity},
    })
    summary.inputFormat = source.format
    const inputPath = source.path

    let stopped = false
    // Workers waiting for room wait for the next pulse: any chunk written, or the batch stopping.
    let pulse: {promise: Promise<void>; resolve: () => void} | undefined
    const nextPulse = () => {
      if (!pulse) {
        let resolve!: () => void
        const promise = new Promise<void>((res) => (resolve = res))
        pulse = {promise, resolve}
      }
      return pulse.promise
    }
    const poke = () => {
      const p = pulse
      pulse = undefined
      p?.resolve()
    }
    const stop = (error?: Error) => {
      if (error && !fatal) fatal = error
      if (stopped) return
      stopped = true
      source?.close()
      // Chunks still running can only come after what is written: their runners go now, so a
      // closed stdout or a failure ends the batch at once, not after the slowest chunk.
      runners.close()
      poke()
    }
    const out = opts.output.file
      ? RowSink.file(opts.output.file, opts.output.format, () => stop())
      : RowSink.stdout(opts.output.format, () => stop())
    sink = out
    const window = opts.concurrency * 6 + 2
    const rowSeparator = opts.output.format === 'json' ? ',' : '\n'
    const done = new Map<number, Done>()
    let read = 0
    let written = 0
    let inputEnd: number | undefined
    let inputError: Error | undefined
    // Under fail, nothing after a chunk known to have failed is started (earlier ones still finish).
    let failedAt = Infinity
    let lastProgress = 0

    const drain = () => {
      for (;;) {
        if (stopped) return
        const d = done.get(written)
        if (!d) break
        done.delete(written)
        const {place, result} = d
        if (d.removed) {
          // a clean miss (exit 3), whatever --on-error says: no later chunk could run either
          out.flush()
          stop(
            notFoundError(`script ${hash} was removed while the batch was running (burn forget or gc); register it again`, {
              hash,
              chunk: place.index + 1,
            }),
          )
          return
        }
        counters = addCounters(counters, resultCounters(result, 'batch.chunks'))
        if (result.cache === 'corrupt' || result.cachedData || (!result.ok && result.error.kind === 'sourceDamaged')) {
          settling.push(settleResult(store, {hash: hash!, tag, result}).catch(() => {}))
        }
        summary.chunks++
        summary.rowsIn += place.rows
        if (result.ok) {
          const rows = result.rows ?? 0
          out.add(result.outputBytes ?? result.output ?? '', rows)
          summary.rowsOut += rows
        } else {
          const err = chunkError(result.error, place, hash!)
          summary.chunksFailed++
          if (opts.onError === 'fail') {
            out.flush()
            stop(err)
            return
          }
          if (opts.onError === 'emit') opts.onChunkError?.(err)
        }
        written++
      }
      out.flush()
      if (inputError && written === inputEnd) stop(inputError)
      const now = performance.now()
      if (opts.onProgress && now - lastProgress > 100) {
        lastProgress = now
        opts.onProgress({...summary, elapsedMs: now - t0})
      }
      poke()
    }

    const room = async () => {
      for (;;) {
        if (stopped) return
        const backpressure = out.ready()
        if (backpressure) await Promise.race([backpressure, nextPulse()])
        else if (read - written >= window) await nextPulse()
        else return
      }
    }

    // The reader runs ahead of the runners (up to `window` chunks not yet written), so a runner
    // that finishes a chunk gets the next one at once: reading after each job left the runners
    // idle half of the time.
    const queue: Chunk[] = []
    const reader = async () => {
      for (;;) {
        await room()
        if (stopped || read > failedAt) break
        let r: IteratorResult<Chunk>
        try {
          r = await source!.chunks.next()
        } catch (error) {
          // the input is broken from here on: what came before is still written, then exit 7
          inputError = error as Error
          break
        }
        if (r.done) break
        read++
        queue.push(r.value)
        poke()
      }
      inputEnd = read
      drain()
    }
    const take = async (): Promise<Chunk | undefined> => {
      for (;;) {
        if (stopped) return undefined
        const c = queue.shift()
        if (c) return c
        if (inputEnd !== undefined) return undefined
        await nextPulse()
      }
    }
    const worker = async () => {
      for (;;) {
        const chunk = await take()
        if (!chunk) return
        if (chunk.index > failedAt) continue
        const job: Job = {
          op: 'run',
          engine,
          tag,
          hash: hash!,
          sourcePath,
          compiledPath,
          input: '',
          limits: opts.limits,
          rows: true,
          rowsIn: chunk.format,
          rowCount: chunk.rows,
          firstLine: chunk.firstLine,
          rowSeparator,
          ...(chunk.bytes
            ? {inputBytes: chunk.bytes}
            : {
                inputRange: {
                  path: inputPath!,
                  offset: chunk.offset,
                  length: chunk.length,
                  ...(chunk.format === 'json' ? {prefix: '[', suffix: ']'} : {}),
                },
              }),
        }
        const place = {index: chunk.index, firstRow: chunk.firstRow, rows: chunk.rows}
        const result = normalize(await runners.exec(job), rowSeparator)
        // a runner that could not read the script: was it removed meanwhile?
        const removed = !result.ok && result.error.kind === 'internal' && !(await exists(sourcePath))
        if (!result.ok && (opts.onError === 'fail' || removed)) failedAt = Math.min(failedAt, chunk.index)
        done.set(chunk.index, {place, result, removed})
        drain()
      }
    }

    // two workers per runner: the pool (depth 2) queues each runner's next chunk behind its current one
    await Promise.all([reader(), ...Array.from({length: opts.concurrency * 2}, worker)])
    if (!stopped) {
      drain()
      if (!fatal && inputError && written === inputEnd) fatal = inputError
    }
    summary.outputClosed = out.closed
    const error = fatal ?? out.error
    await out.end(!error && !out.closed)
  } catch (error) {
    fatal ??= error as Error
    await sink?.end(false).catch(() => {})
  } finally {
    removeSignals()
    source?.close()
    pool?.close()
    await Promise.all(settling)
    summary.elapsedMs = performance.now() - t0
    if (hash) {
      const c = addCounters(counters, {'batch.runs': 1, 'batch.rows': summary.rowsIn, 'batch.rowsOut': summary.rowsOut})
      await recordStats(store.layout, {counters: c, used: {[hash]: Date.now()}}).catch(() => {})
    }
  }
  return {summary, error: fatal}
}

function addCounters(a: Counters, b: Counters): Counters {
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

/** On Ctrl-C or a kill: the --output tmp file and the runners go, then burn exits as the signal would. */
function onSignals(cleanup: () => void): () => void {
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const h = () => {
      cleanup()
      process.kill(process.pid, sig)
    }
    return [sig, h] as const
  })
  for (const [sig, h] of handlers) process.once(sig, h)
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h)
  }
}
