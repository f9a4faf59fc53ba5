import {checkChunkSize, kept, spanBytes} from './span.js'
import {JsonArrayScanner} from '../util/json/array.js'
import type {Chunk, ChunkOptions} from './types.js'

const OPEN = Buffer.from('[')
const CLOSE = Buffer.from(']')

/**
 * The elements of one top-level JSON array, streamed: chunks of `opts.rows` elements, each one
 * the JSON array of its own elements (the input bytes verbatim, between brackets). Memory: one
 * read buffer, plus the chunk being filled when the bytes must be kept (not a regular file, or
 * --memo).
 */
export async function* jsonChunks(source: AsyncIterable<Buffer>, opts: ChunkOptions): AsyncGenerator<Chunk> {
  let index = 0
  let firstRow = 0
  let parts: Buffer[] = []
  let open = false
  /** absolute offset of the current buffer's first byte, and of the current chunk's */
  let base = opts.startOffset
  let chunkStart = 0
  let firstLine = 1
  let rows = 0
  let cur: Buffer = Buffer.alloc(0)
  let ready: Chunk[] = []

  const cut = (end: number) => {
    const length = base + end - chunkStart
    checkChunkSize(length)
    const bytes = opts.keepBytes ? Buffer.concat([OPEN, spanBytes(parts, cur, Math.max(0, chunkStart - base), end), CLOSE]) : undefined
    ready.push({index: index++, firstRow, rows, format: 'json', offset: chunkStart, length, bytes, firstLine})
    firstRow += rows
    rows = 0
    parts = []
    open = false
  }
  const scanner = new JsonArrayScanner({
    start(offset, line) {
      if (open) return
      open = true
      chunkStart = base + offset
      firstLine = line
    },
    end(offset, last) {
      rows++
      if (last || (opts.rows > 0 && rows >= opts.rows) || base + offset - chunkStart >= opts.maxBytes) cut(offset)
    },
  })

  for await (const buf of source) {
    cur = buf
    try {
      scanner.scan(buf)
    } catch (error) {
      // the chunks before a structural error are good: they go out first, in order
      yield* ready
      throw error
    }
    if (open) {
      if (opts.keepBytes) parts.push(kept(buf.subarray(Math.max(0, chunkStart - base)), opts))
      checkChunkSize(base + buf.length - chunkStart)
    }
    base += buf.length
    yield* ready
    ready = []
  }
  scanner.finish()
  // --chunk-size 0 is exactly one call, even with an empty array (Afterburner's execute_batch)
  if (opts.rows === 0 && index === 0) {
    yield {
      index: 0,
      firstRow: 0,
      rows: 0,
      format: 'json',
      offset: 0,
      length: 0,
      bytes: opts.keepBytes ? Buffer.from('[]') : undefined,
      firstLine: scanner.line,
    }
  }
}
