import {spanBytes} from './span.js'
import {JsonArrayScanner} from './json-array.js'
import type {Chunk, ChunkOptions} from './types.js'

const EMPTY: Buffer = Buffer.alloc(0)
const OPEN = Buffer.from('[')
const CLOSE = Buffer.from(']')

/**
 * The elements of one top-level JSON array, streamed: chunks of `opts.rows` elements, each sent
 * on as the JSON array of its own elements (the input bytes verbatim, between brackets).
 * Memory: the chunk being filled plus one read buffer, whatever the size of the array.
 */
export async function* jsonChunks(source: AsyncIterable<Buffer>, opts: ChunkOptions): AsyncGenerator<Chunk> {
  let index = 0
  let firstRow = 0
  let parts: Buffer[] = []
  let partsBytes = 0
  let open = false
  let start = 0
  let firstLine = 1
  let rows = 0
  let cur: Buffer = EMPTY
  let ready: Chunk[] = []

  const cut = (end: number) => {
    const span = spanBytes(parts, cur, start, end, partsBytes + end - start)
    ready.push({index: index++, firstRow, rows, format: 'json', bytes: Buffer.concat([OPEN, span, CLOSE]), firstLine})
    firstRow += rows
    rows = 0
    parts = []
    partsBytes = 0
    open = false
  }
  const scanner = new JsonArrayScanner({
    start(offset, line) {
      if (open) return
      open = true
      start = offset
      firstLine = line
    },
    end(offset, last) {
      rows++
      if (last || (opts.rows > 0 && rows >= opts.rows) || partsBytes + offset - start >= opts.maxBytes) cut(offset)
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
      parts.push(buf.subarray(start))
      partsBytes += buf.length - start
      start = 0
    }
    cur = EMPTY
    yield* ready
    ready = []
  }
  scanner.finish()
  // --chunk-size 0 is exactly one call, even with an empty array (Afterburner's execute_batch)
  if (opts.rows === 0 && index === 0) yield {index: 0, firstRow: 0, rows: 0, format: 'json', bytes: Buffer.from('[]'), firstLine: scanner.line}
}
