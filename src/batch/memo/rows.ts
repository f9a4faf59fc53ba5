import type {JobResult} from '../../engines/protocol.js'
import {JsonArrayScanner} from '../../util/json/array.js'
import type {Chunk} from '../types.js'
import {atLeast} from '../../util/scratch.js'

/*
 * The rows of a chunk under --memo (memo.ts): where each row is in the chunk's bytes and in a
 * runner's output, and the chunk of only some of them.
 */
export const NL = 0x0a
const COMMA = 0x2c

/** A runner's rows: its output and where each row is in it, as [start, end) pairs. */
export interface Rows {
  out: Buffer
  spans: Int32Array
}

/** A runner's rows, '\n'-joined, split back: undefined when its count is not the job's. */
export function splitRows(r: Extract<JobResult, {ok: true}>): Rows | undefined {
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
 * when this count differs from the reader's, which the runner then reports. The pairs are a view
 * of `scratch`, which the next chunk writes over (a JS array per chunk, copied into a typed
 * array, took about twice as long in the profile of a 1M-row re-run).
 */
export function rowSpans(chunk: Chunk, scratch: {spans: Int32Array}): Int32Array | undefined {
  const b = chunk.bytes!
  const want = 2 * chunk.rows
  const spans = (scratch.spans = atLeast(scratch.spans, want))
  let k = 0
  // (one past `want`: more rows than the reader counted)
  const put = (offset: number) => {
    if (k < want) spans[k] = offset
    k++
  }
  if (chunk.format === 'ndjson') {
    for (let start = 0; start < b.length && k <= want;) {
      let end = b.indexOf(NL, start)
      if (end === -1) end = b.length
      for (let i = start; i < end; i++) {
        const c = b[i]
        if (c !== 0x20 && c !== 0x09 && c !== 0x0d) {
          put(start)
          put(end)
          break
        }
      }
      start = end + 1
    }
  } else {
    const scanner = new JsonArrayScanner({start: put, end: put})
    try {
      scanner.scan(b)
      scanner.finish()
    } catch {
      return undefined
    }
  }
  return k === want ? spans.subarray(0, want) : undefined
}

/**
 * The rows `which` of a chunk, in order and joined by the input's separator ('\n' or ','), no
 * brackets; and where each is in those bytes. Copied out: the chunk's bytes may be read over.
 */
export function pickRows(chunk: Chunk, spans: Int32Array, which: number[]): Rows {
  const b = chunk.bytes!
  const sep = chunk.format === 'ndjson' ? NL : COMMA
  let size = which.length - 1
  for (const i of which) size += spans[2 * i + 1] - spans[2 * i]
  const out = Buffer.allocUnsafe(Math.max(size, 0))
  const at = new Int32Array(2 * which.length)
  let pos = 0
  which.forEach((i, k) => {
    if (k > 0) out[pos++] = sep
    at[2 * k] = pos
    pos += b.copy(out, pos, spans[2 * i], spans[2 * i + 1])
    at[2 * k + 1] = pos
  })
  return {out, spans: at}
}

/** --output-format json: rows joined by ',' (no result holds a raw newline). */
export function commas(out: Buffer): void {
  for (let i = out.indexOf(NL); i !== -1; i = out.indexOf(NL, i + 1)) out[i] = COMMA
}

export function outputOf(r: Extract<JobResult, {ok: true}>): Buffer {
  if (r.outputBytes) return Buffer.from(r.outputBytes.buffer, r.outputBytes.byteOffset, r.outputBytes.byteLength)
  return Buffer.from(r.output ?? '', 'utf8')
}
