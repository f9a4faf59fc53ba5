import type {RunnerPool} from '../runners/pool.js'
import {engineTag, type EngineName} from '../engines/tag.js'
import {afterFetchedRun, remoteOrWarn, runTargetOrFetch, type RemoteUse} from '../store/remote/lookup.js'
import {recordRemoteStats} from '../store/remote/publish.js'
import {fetchRowPacks, publishResultFiles} from '../store/remote/result-files.js'
import {RemoteSession} from '../store/remote/session.js'
import {recordStats} from '../store/stats/stats.js'
import {checkScriptDirs, type Store} from '../store/store.js'
import {DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_ROWS} from '../cli/batch-defaults.js'
import {refuseFuel} from '../cli/limits.js'
import {openRows, type RowSource} from './input.js'
import {addCounters, ChunkPipeline, type Script, type Tally} from './pipeline.js'
import {RowSink} from './sink.js'
import {BatchMemo} from './memo/batch-memo.js'
import {rowsScope} from '../store/results/key.js'
import {RowIndex} from '../store/results/row-index.js'
import {RowPackWriter} from '../store/results/rows.js'
import type {BatchOptions, BatchOutcome, BatchSummary} from './types.js'

/**
 * A runner that grew by more than this since its first chunk is replaced between chunks
 * (RunnerPool, recycleGrowthBytes). Lean runners stay about 15-20 MB above their size after the
 * first chunk (1M rows of bench/batch.mjs: flat at 67-70 MB, no restart), so this only acts on
 * a script whose own state keeps growing. Before lean runners, every runner grew past it a few
 * times per million rows, for 0.15-0.3 s of restarts.
 */
export const RECYCLE_GROWTH_BYTES = 32 * 1024 * 1024

/**
 * `burn batch`: chunks of rows go to the runners of `opts.pool`, at most `concurrency` at a time,
 * and their results are written strictly in input order (ChunkPipeline). This part opens what
 * the batch needs, in order (the script, its runners, the input, the output), and whatever way
 * the batch ends, closes them, ends the output and records the stats.
 */
export async function runBatch(store: Store, opts: BatchOptions): Promise<BatchOutcome> {
  const t0 = performance.now()
  const tally: Tally = {summary: startSummary(opts), counters: {}, settling: []}
  const {summary} = tally
  let hash: string | undefined
  let pool: RunnerPool | undefined
  let source: RowSource | undefined
  let pipeline: ChunkPipeline<RowSink> | undefined
  let thrown: Error | undefined
  let remote: RemoteUse | undefined
  let memo: MemoParts | undefined
  const removeSignals = onSignals(() => {
    pipeline?.out.abortSync()
    pool?.close()
  })
  try {
    // A local miss of a full hash or a name asks the shared remote cache, as `burn run` does.
    const target = await runTargetOrFetch(store, store.layout.root, opts.ref, opts.engine)
    remote = target.remote
    hash = target.hash
    summary.hash = hash
    summary.engine = target.engine
    refuseFuel(opts.limits.fuel, target.engine)
    const runners = (pool = opts.pool(target.engine))
    const script = checkedScript(store, target)
    if (opts.memo) {
      const parts = (memo = await openMemo(store, target, opts))
      runners.mayGrow = () => parts.memo.moreRunners()
    }
    source = await openRows({
      file: opts.input.file,
      format: opts.input.format,
      chunk: {rows: summary.chunkSize, maxBytes: opts.chunkSize === undefined ? DEFAULT_CHUNK_BYTES : Infinity},
      keepBytes: opts.memo,
    })
    summary.inputFormat = source.format
    const openOutput = (onClosed: () => void) => openSink(opts.output, onClosed)
    pipeline = new ChunkPipeline({store, opts, script, runners, source, openOutput, tally, t0, memo: memo?.memo})
    await pipeline.run()
    const {out} = pipeline
    summary.outputClosed = out.closed
    const error = pipeline.fatal ?? out.error
    await out.end(!error && !out.closed)
  } catch (error) {
    thrown = error as Error
    await pipeline?.out.end(false).catch(() => {})
  } finally {
    removeSignals()
    source?.close()
    pool?.close()
    await Promise.all(tally.settling)
    if (memo) await closeMemo(store, memo, tally)
    summary.elapsedMs = performance.now() - t0
    if (hash) await recordBatchStats(store, hash, tally)
    // (its remote counters, and a compiled form made here that the remote lacked, published)
    if (remote) await afterFetchedRun(store, remote).catch(() => {})
  }
  return {summary, error: pipeline?.fatal ?? thrown}
}

interface MemoParts {
  memo: BatchMemo
  index: RowIndex
  writer: RowPackWriter
  hash: string
  /** The shared remote cache, when one is configured with BURN_REMOTE_KEY (packs travel only sealed). */
  session?: RemoteSession
}

/**
 * The rows stored by earlier batches of this scope, the remote's packs first brought into the
 * store (remote/result-files.ts; the connection is closed again before the batch starts).
 */
async function openMemo(store: Store, t: {hash: string; engine: EngineName}, opts: BatchOptions): Promise<MemoParts> {
  const scope = rowsScope({hash: t.hash, engine: t.engine, limits: opts.limits})
  const config = remoteOrWarn()
  const session = config?.key === undefined ? undefined : new RemoteSession(config)
  if (session) await fetchRowPacks(store.layout, session, t.hash, scope).finally(() => session.close())
  const index = await RowIndex.load(store.layout, t.hash, scope)
  const writer = new RowPackWriter(store.layout, t.hash, scope)
  const separator = opts.output.format === 'json' ? ',' : '\n'
  // (rows not found go to a runner a chunk's worth at a time: --chunk-size 0 is one chunk)
  const groupRows = opts.chunkSize === 0 ? Infinity : (opts.chunkSize ?? DEFAULT_CHUNK_ROWS)
  const memo = new BatchMemo(index, writer, {outSeparator: separator, maxOutputBytes: opts.limits.maxOutputBytes, groupRows})
  return {memo, index, writer, hash: t.hash, session}
}

/**
 * The rows computed are stored (a pack that cannot be written is not: the output is out already),
 * published to the remote, then counted.
 */
async function closeMemo(store: Store, {index, writer, hash, session}: MemoParts, {summary, counters}: Tally): Promise<void> {
  const stored = await writer.close().catch(() => writer.stored)
  if (session) {
    await publishResultFiles(store.layout, session, hash, writer.keys).catch(() => {})
    await session.close()
    await recordRemoteStats(store, session)
  }
  await index.touch()
  counters['memo.hits'] = (counters['memo.hits'] ?? 0) + (summary.rowsReused ?? 0)
  counters['memo.misses'] = (counters['memo.misses'] ?? 0) + (summary.rowsComputed ?? 0)
  counters['memo.stored'] = (counters['memo.stored'] ?? 0) + stored
}

function startSummary(opts: BatchOptions): BatchSummary {
  return {
    rowsIn: 0,
    rowsOut: 0,
    chunks: 0,
    chunksFailed: 0,
    elapsedMs: 0,
    engine: opts.engine ?? 'v8',
    outputFormat: opts.output.format,
    chunkSize: opts.chunkSize ?? DEFAULT_CHUNK_ROWS,
    concurrency: opts.concurrency,
    outputClosed: false,
    ...(opts.memo ? {rowsComputed: 0, rowsReused: 0} : {}),
  }
}

function checkedScript(store: Store, {hash, engine}: {hash: string; engine: EngineName}): Script {
  const tag = engineTag(engine)
  const {layout} = store
  checkScriptDirs(layout, hash, [tag])
  return {hash, engine, tag, sourcePath: layout.object(hash), compiledPath: layout.compiled(tag, hash)}
}

function openSink(output: BatchOptions['output'], onClosed: () => void): RowSink {
  return output.file ? RowSink.file(output.file, output.format, onClosed) : RowSink.stdout(output.format, onClosed)
}

async function recordBatchStats(store: Store, hash: string, {summary, counters}: Tally): Promise<void> {
  const c = addCounters(counters, {'batch.runs': 1, 'batch.rows': summary.rowsIn, 'batch.rowsOut': summary.rowsOut})
  await recordStats(store.layout, {counters: c, used: {[hash]: Date.now()}}).catch(() => {})
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
