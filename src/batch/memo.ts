import type {JobResult} from '../engines/protocol.js'
import type {RowIndex, RowPackWriter} from '../store/results/rows.js'
import {JsonArrayScanner} from '../util/json-array.js'
import type {Chunk} from './types.js'

const NL = 0x0a
const COMMA = 0x2c
const OPEN = Buffer.from('[')
const CLOSE = Buffer.from(']')
const NEWLINE = Buffer.from('\n')

/** Runs a chunk on a runner with rows joined by `separator`; `whole`: the chunk as read (its file range, if it has one). */
export type ChunkExec = (chunk: Chunk, separator: string, whole: boolean) => Promise<JobResult>

/** One chunk under --memo: its result, as a plain batch would have written it, and how many of its rows were stored ones. */
export interface MemoChunk {
  result: JobResult
  reused: number
}

/**
 * `batch --memo` (README, "Memoized results"): each row of a chunk is looked up among the rows
 * stored by earlier batches of the same script, engine and --fuel (store/results/rows.ts);
 * only the rows that are not there go to a runner, as one smaller chunk, and the chunk's
 * output is put together in input order from both. Rows of a chunk that succeeded are stored.
 *
 * Runners answer with rows joined by '\n' (JSON.stringify never writes a raw newline, so the
 * output splits back into rows exactly); for --output-format json every '\n' becomes ','.
 * Whenever the pieces could differ from what the whole chunk gives (the rows that ran failed,
 * or returned another number of rows, or the chunk is over --max-output), the whole chunk runs
 * as without --memo and its result is the one written: errors name the same rows and lines,
 * and nothing of that chunk is stored. The script is assumed to map each row on its own (a row's
 * result does not depend on the other rows of its chunk), which is what --memo promises to keep.
 */
export class BatchMemo {
  constructor(
    private readonly index: RowIndex,
    private readonly writer: RowPackWriter,
    private readonly outSeparator: string,
    private readonly maxOutputBytes: number,
  ) {}

  async chunk(chunk: Chunk, exec: ChunkExec): Promise<MemoChunk> {
    const bytes = chunk.bytes!
    const spans = rowSpans(chunk)
    if (!spans) return {result: this.joined(await exec(chunk, '\n', true)), reused: 0}
    const n = spans.length / 2
    const found = new Int32Array(n)
    const misses: number[] = []
    let hint = -1
    for (let i = 0; i < n; i++) {
      const id = this.index.find(bytes, spans[2 * i], spans[2 * i + 1], hint)
      found[i] = id
      if (id < 0) misses.push(i)
      hint = id < 0 ? (hint < 0 ? -1 : hint + 1) : id + 1
    }
    if (misses.length === n) return {result: this.computed(chunk, spans, await exec(chunk, '\n', true)), reused: 0}
    let fresh: Rows = {out: Buffer.alloc(0), spans: new Int32Array(0)}
    // (a run's compiled-code outcome goes on with the chunk's result: the pipeline saves and counts it)
    let ran: Extract<JobResult, {ok: true}> = {ok: true, cache: 'none', compileMs: 0, runMs: 0}
    if (misses.length > 0) {
      const r = await exec(subChunk(chunk, spans, misses), '\n', false)
      const rows = r.ok && r.rows === misses.length ? splitRows(r) : undefined
      if (!rows || !r.ok) return {result: this.joined(await exec(chunk, '\n', true)), reused: 0}
      ran = r
      fresh = rows
    }
    const f = fresh.spans
    let size = n - 1
    for (let i = 0, m = 0; i < n; i++) {
      if (found[i] >= 0) size += this.index.resultLength(found[i])
      else size += f[2 * m + 1] - f[2 * m++]
    }
    // (a stored result may be from a run under a larger --max-output)
    if (size > this.maxOutputBytes) return {result: this.joined(await exec(chunk, '\n', true)), reused: 0}
    misses.forEach((i, m) => this.writer.add(bytes, spans[2 * i], spans[2 * i + 1], fresh.out, f[2 * m], f[2 * m + 1]))
    // stored results are copied straight from their packs: no view object per row for the GC to collect
    const output = Buffer.allocUnsafe(size)
    const separator = this.outSeparator === ',' ? COMMA : NL
    for (let i = 0, m = 0, at = 0; i < n; i++) {
      if (i > 0) output[at++] = separator
      if (found[i] >= 0) at += this.index.copyResult(found[i], output, at)
      else at += fresh.out.copy(output, at, f[2 * m], f[2 * m++ + 1])
    }
    return {result: {...ran, output: undefined, outputBytes: output, rows: n}, reused: n - misses.length}
  }

  /** The whole chunk ran: its rows are stored when it gave one result per row. */
  private computed(chunk: Chunk, spans: Int32Array, r: JobResult): JobResult {
    const rows = r.ok && r.rows === spans.length / 2 ? splitRows(r) : undefined
    const f = rows?.spans
    if (rows && f) for (let i = 0; i < f.length; i += 2) this.writer.add(chunk.bytes!, spans[i], spans[i + 1], rows.out, f[i], f[i + 1])
    return this.joined(r)
  }

  /** A runner's '\n'-joined rows, joined as the output format joins them. */
  private joined(r: JobResult): JobResult {
    if (!r.ok || this.outSeparator === '\n') return r
    const out = Buffer.from(outputOf(r))
    for (let i = out.indexOf(NL); i !== -1; i = out.indexOf(NL, i + 1)) out[i] = COMMA
    return {...r, output: undefined, outputBytes: out}
  }
}

function outputOf(r: Extract<JobResult, {ok: true}>): Buffer {
  if (r.outputBytes) return Buffer.from(r.outputBytes.buffer, r.outputBytes.byteOffset, r.outputBytes.byteLength)
  return Buffer.from(r.output ?? '', 'utf8')
}

/** A runner's rows: its output and where each row is in it, as [start, end) pairs. */
interface Rows {
  out: Buffer
  spans: Int32Array
}

function splitRows(r: Extract<JobResult, {ok: true}>): Rows | undefined {
  const out = outputOf(r)
  const n = r.rows ?? 0
  if (n === 0) return out.length === 0 ? {out, spans: new Int32Array(0)} : undefined
  const spans = new Int32Array(2 * n)
  let k = 0
  let start = 0
  for (let i = out.indexOf(NL); i !== -1; i = out.indexOf(NL, start)) {
    if (k === n - 1) return undefined
    spans[2 * k] = start
    spans[2 * k++ + 1] = i
    start = i + 1
  }
  if (k !== n - 1) return undefined
  spans[2 * k] = start
  spans[2 * k + 1] = out.length
  return {out, spans}
}

/**
 * Where each row of a chunk's bytes is, as [start, end) pairs: NDJSON, its non-blank lines (the
 * bytes of the line, without the newline); JSON, its elements (without the commas). Undefined
 * when this count differs from the reader's, which the runner then reports.
 */
export function rowSpans(chunk: Chunk): Int32Array | undefined {
  const b = chunk.bytes!
  const spans: number[] = []
  if (chunk.format === 'ndjson') {
    for (let start = 0; start < b.length;) {
      let end = b.indexOf(NL, start)
      if (end === -1) end = b.length
      for (let i = start; i < end; i++) {
        const c = b[i]
        if (c !== 0x20 && c !== 0x09 && c !== 0x0d) {
          spans.push(start, end)
          break
        }
      }
      start = end + 1
    }
  } else {
    const scanner = new JsonArrayScanner({start: (offset) => spans.push(offset), end: (offset) => spans.push(offset)})
    try {
      scanner.scan(b)
      scanner.finish()
    } catch {
      return undefined
    }
  }
  return spans.length === chunk.rows * 2 ? Int32Array.from(spans) : undefined
}

/** The chunk of only the rows `which` (its first line stays the chunk's: only a failure reports lines, and it reruns whole). */
function subChunk(chunk: Chunk, spans: Int32Array, which: number[]): Chunk {
  const b = chunk.bytes!
  const parts: Buffer[] = []
  const sep = chunk.format === 'ndjson' ? NEWLINE : Buffer.from(',')
  if (chunk.format === 'json') parts.push(OPEN)
  which.forEach((i, k) => {
    if (k > 0) parts.push(sep)
    parts.push(b.subarray(spans[2 * i], spans[2 * i + 1]))
  })
  if (chunk.format === 'json') parts.push(CLOSE)
  return {...chunk, rows: which.length, bytes: Buffer.concat(parts)}
}
