import type {JobResult} from '../../engines/protocol.js'
import type {RowIndex} from '../../store/results/row-index.js'
import type {RowPackWriter} from '../../store/results/rows.js'
import {assemble, RowMatcher, type Plan} from './plan.js'
import {commas, outputOf, pickRows, rowSpans, splitRows, type Rows} from './rows.js'
import {BufferPool} from '../../util/scratch.js'
import type {Chunk} from '../types.js'

/** Runs a chunk on a runner with rows joined by `separator`; `whole`: the chunk as read (its file range, if it has one). */
export type ChunkExec = (chunk: Chunk, separator: string, whole: boolean) => Promise<JobResult>

/** One chunk under --memo: its result, as a plain batch would have written it, and how many of its rows were stored ones. */
export interface MemoChunk {
  result: JobResult
  reused: number
  /** Called once the output's bytes are written: its buffer is filled again by a later chunk. */
  release?: () => void
}

/** What `prepare` found for a chunk: run it whole; run it whole and store its rows; or compute only `misses`. */
type Prepared =
  | {kind: 'whole'}
  | {kind: 'all'; bytes: Buffer; spans: Int32Array}
  | {kind: 'some'; plan: Plan; missed: Rows; rows: number; format: Chunk['format']}

/** The rows not found of several chunks, computed by one runner job. */
interface Group {
  rows: number
  bytes: number
  parts: Rows[]
  format: Chunk['format']
  waiters: Array<{resolve: (r: Computed | undefined) => void; reject: (e: unknown) => void}>
}

type OkResult = Extract<JobResult, {ok: true}>
/** Rows a runner computed, and its job's result (its compiled-code outcome goes on with one chunk's result). */
type Computed = {rows: Rows; ran: OkResult}
const NONE: OkResult = {ok: true, cache: 'none', compileMs: 0, runMs: 0}
/** A group of rows not found is sent once it holds this many bytes. */
const GROUP_BYTES = 4 * 1024 * 1024
/**
 * Runners beyond the first start only while at least this share of the rows looked up is
 * computed. A re-run that computes 1% of 1M rows (bench/batch-memo.mjs) took ~0.2 s longer when
 * a second runner started mid-run: it took a core while it started, and the jobs it was given
 * waited for it, with the output in input order behind them.
 */
const MORE_RUNNERS_SHARE = 0.1

/**
 * `batch --memo` (README, "Memoized results"): each row of a chunk is looked up among the rows
 * stored by earlier batches of the same script, engine and --fuel (store/results/rows.ts; how,
 * plan.ts); only the rows that are not there go to a runner, and the chunk's output is put
 * together in input order from both. Rows of a chunk that succeeded are stored.
 *
 * `prepare` looks the rows up as the reader cuts each chunk, while its bytes are still in the
 * read buffer, and copies out only the rows not found (a copy of every chunk was most of a
 * re-run's memory traffic). Rows not found of the chunks in flight go to the runners together,
 * a chunk's worth of rows (`groupRows`) to a job: a job per chunk for a few rows each cost more
 * in waking runners than the rows did.
 *
 * Runners answer with rows joined by '\n' (JSON.stringify never writes a raw newline, so the
 * output splits back into rows exactly); for --output-format json every '\n' becomes ','.
 * Whenever the pieces could differ from what the whole chunk gives (the rows that ran failed,
 * or returned another number of rows, or the chunk is over --max-output, or a pack could no
 * longer be read), the whole chunk runs as without --memo and its result is the one written:
 * errors name the same rows and lines, and nothing of that chunk is stored. The script is
 * assumed to map each row on its own (a row's result does not depend on the other rows it runs
 * with), which is what --memo promises to keep.
 */
export class BatchMemo {
  private readonly matcher: RowMatcher
  private readonly prepared = new Map<number, Prepared>()
  /** rows to store, by chunk, until every chunk before theirs is stored */
  private readonly stores = new Map<number, Array<() => void>>()
  private stored = 0
  private group: Group | undefined
  /** rows of the last chunks looked up (each chunk before weighs 10% less), and how many of them go to a runner */
  private recentRows = 0
  private recentComputed = 0
  /** where the rows of the chunk being looked up are (rowSpans) */
  private readonly scratch = {spans: new Int32Array(0)}
  /** the buffers chunks' outputs are put together in (written out, they are used again) */
  private readonly pool = new BufferPool()

  constructor(
    index: RowIndex,
    private readonly writer: RowPackWriter,
    private readonly opts: {outSeparator: string; maxOutputBytes: number; groupRows: number},
  ) {
    this.matcher = new RowMatcher(index, this.pool)
  }

  /**
   * Looks up the rows of a chunk just read (chunks in input order). `detach`: its bytes are a
   * view of a buffer read over next (a regular file, which runners read themselves): kept only
   * when every row must run.
   */
  prepare(chunk: Chunk, detach: boolean): void {
    const bytes = chunk.bytes!
    const spans = rowSpans(chunk, this.scratch)
    const plan = spans && this.matcher.plan(bytes, spans, chunk.format === 'ndjson')
    let p: Prepared = {kind: 'whole'}
    if (spans && plan && plan.misses.length === spans.length / 2)
      p = {kind: 'all', bytes: detach ? Buffer.from(bytes) : bytes, spans: spans.slice()}
    else if (spans && plan)
      p = {kind: 'some', plan, missed: pickRows(chunk, spans, plan.misses), rows: spans.length / 2, format: chunk.format}
    this.prepared.set(chunk.index, p)
    if (detach) chunk.bytes = undefined
    this.recentRows = 0.9 * this.recentRows + chunk.rows
    this.recentComputed = 0.9 * this.recentComputed + (p.kind === 'some' ? p.plan.misses.length : chunk.rows)
  }

  /**
   * Whether the chunks just looked up compute enough of their rows for another runner to pay for
   * its start (the pool's mayGrow): a file whose end changed whole gets its runners there.
   */
  moreRunners(): boolean {
    return this.recentComputed > 0 && this.recentComputed >= this.recentRows * MORE_RUNNERS_SHARE
  }

  /**
   * Runs a prepared chunk. The rows it computed are stored in input order, once every chunk
   * before it was (chunks finish out of order): a re-run then finds them one after the other.
   */
  async chunk(chunk: Chunk, exec: ChunkExec): Promise<MemoChunk> {
    const store: Array<() => void> = []
    try {
      return await this.run(chunk, exec, (fn) => store.push(fn))
    } finally {
      this.store(chunk.index, store)
    }
  }

  /** A chunk the batch does not run (after a failure under --on-error fail): the chunks after it are still stored. */
  skip(index: number): void {
    const p = this.prepared.get(index)
    if (p?.kind === 'some') this.pool.give(p.plan.stored)
    this.prepared.delete(index)
    this.store(index, [])
  }

  private store(index: number, fns: Array<() => void>): void {
    this.stores.set(index, fns)
    for (let next = this.stores.get(this.stored); next; next = this.stores.get(this.stored)) {
      this.stores.delete(this.stored++)
      for (const fn of next) fn()
    }
  }

  private async run(chunk: Chunk, exec: ChunkExec, store: (fn: () => void) => void): Promise<MemoChunk> {
    const p = this.prepared.get(chunk.index) ?? {kind: 'whole'}
    this.prepared.delete(chunk.index)
    const whole = async () => ({result: this.joined(await exec(chunk, '\n', true)), reused: 0})
    if (p.kind === 'whole') return whole()
    if (p.kind === 'all') {
      const r = await exec(chunk, '\n', true)
      const rows = r.ok && r.rows === p.spans.length / 2 ? splitRows(r) : undefined
      const f = rows?.spans
      if (rows && f) store(() => this.keep(p.bytes, p.spans, rows.out, f))
      return {result: this.joined(r), reused: 0}
    }
    const {plan, missed, rows: n} = p
    const {pool} = this
    const computed =
      plan.misses.length > 0 ? await this.compute(missed, p.format, exec) : {rows: {out: Buffer.alloc(0), spans: missed.spans}, ran: NONE}
    const runWhole = () => {
      pool.give(plan.stored)
      return whole()
    }
    if (!computed) return runWhole()
    const fresh = computed.rows
    const f = fresh.spans
    let size = plan.stored.length - 1
    for (let m = 0; m < plan.misses.length; m++) size += f[2 * m + 1] - f[2 * m] + 1
    // (a stored result may be from a run under a larger --max-output)
    if (size > this.opts.maxOutputBytes) return runWhole()
    store(() => this.keep(missed.out, missed.spans, fresh.out, f))
    let output = plan.stored.subarray(0, size)
    if (plan.misses.length > 0) {
      output = assemble(plan, fresh, n, size, pool)
      pool.give(plan.stored)
    }
    if (this.opts.outSeparator === ',') commas(output)
    // (a run's compiled-code outcome goes on with one chunk's result: the pipeline saves and counts it)
    const result: JobResult = {...computed.ran, output: undefined, outputBytes: output, rows: n}
    return {result, reused: n - plan.misses.length, release: () => pool.give(output)}
  }

  /** Rows at `spans` of `rows` gave the results at `f` of `out`: stored. */
  private keep(rows: Buffer, spans: Int32Array, out: Buffer, f: Int32Array): void {
    for (let i = 0; i < spans.length; i += 2) this.writer.add(rows, spans[i], spans[i + 1], out, f[i], f[i + 1])
  }

  /**
   * The results of rows not found, computed with those of the other chunks that ask in the same
   * turn of the event loop (up to a chunk's worth); undefined when their job failed or gave
   * another number of rows (the chunk then runs whole, alone).
   */
  private compute(missed: Rows, format: Chunk['format'], exec: ChunkExec): Promise<Computed | undefined> {
    const rows = missed.spans.length / 2
    if (this.group && (this.group.rows + rows > this.opts.groupRows || this.group.bytes + missed.out.length > GROUP_BYTES)) this.send(exec)
    let g = this.group
    if (!g) {
      const group = (g = this.group = {rows: 0, bytes: 0, parts: [], format, waiters: []})
      setImmediate(() => this.group === group && this.send(exec))
    }
    g.rows += rows
    g.bytes += missed.out.length + 1
    g.parts.push(missed)
    const group = g
    return new Promise((resolve, reject) => group.waiters.push({resolve, reject}))
  }

  private send(exec: ChunkExec): void {
    const g = this.group!
    this.group = undefined
    const sep = Buffer.from(g.format === 'ndjson' ? '\n' : ',')
    const pieces = g.parts.flatMap((p, i) => (i === 0 ? [p.out] : [sep, p.out]))
    const bytes = Buffer.concat(g.format === 'json' ? [Buffer.from('['), ...pieces, Buffer.from(']')] : pieces)
    const chunk: Chunk = {index: 0, firstRow: 0, rows: g.rows, format: g.format, offset: 0, length: bytes.length, bytes, firstLine: 1}
    exec(chunk, '\n', false).then(
      (r) => {
        const all = r.ok && r.rows === g.rows ? splitRows(r) : undefined
        let at = 0
        g.parts.forEach((p, i) => {
          const n = p.spans.length / 2
          const rows = all && {out: all.out, spans: all.spans.subarray(2 * at, 2 * (at + n))}
          at += n
          g.waiters[i].resolve(rows && {rows, ran: i === 0 && r.ok ? r : NONE})
        })
      },
      (error: unknown) => g.waiters.forEach((w) => w.reject(error)),
    )
  }

  /** A runner's '\n'-joined rows, joined as the output format joins them. */
  private joined(r: JobResult): JobResult {
    if (!r.ok || this.opts.outSeparator === '\n') return r
    const out = Buffer.from(outputOf(r))
    commas(out)
    return {...r, output: undefined, outputBytes: out}
  }
}
