import {spanBytes} from './span.js'
import type {Chunk, ChunkOptions} from './types.js'

const NL = 0x0a
const EMPTY: Buffer = Buffer.alloc(0)

/**
 * NDJSON, streamed: one JSON value per line; blank lines (spaces, tabs, CR only) are skipped but
 * still counted, so line numbers in errors are the file's own. Chunks end at a newline, and
 * carry their lines' bytes verbatim (a view of the read buffer when they fit in one): the
 * runner decodes and parses them, while burn's main process only looks for newlines, natively.
 */
export async function* ndjsonChunks(source: AsyncIterable<Buffer>, opts: ChunkOptions): AsyncGenerator<Chunk> {
  let index = 0
  let firstRow = 0
  let line = 1
  let chunkLine = 1
  let rows = 0
  let content = false
  let parts: Buffer[] = []
  let partsBytes = 0

  for await (const buf of source) {
    const ready: Chunk[] = []
    const n = buf.length
    let start = 0
    let pos = 0
    while (pos < n) {
      if (!content) {
        let b = buf[pos]
        while ((b === 0x20 || b === 0x09 || b === 0x0d) && ++pos < n) b = buf[pos]
        if (pos < n && b !== NL) content = true
      }
      const nl = buf.indexOf(NL, pos)
      if (nl === -1) break
      if (content) rows++
      content = false
      line++
      pos = nl + 1
      if (rows > 0 && ((opts.rows > 0 && rows >= opts.rows) || partsBytes + nl - start >= opts.maxBytes)) {
        ready.push({index: index++, firstRow, rows, format: 'ndjson', bytes: spanBytes(parts, buf, start, nl, partsBytes + nl - start), firstLine: chunkLine})
        firstRow += rows
        rows = 0
        chunkLine = line
        parts = []
        partsBytes = 0
        start = pos
      }
    }
    if (start < n) {
      parts.push(buf.subarray(start))
      partsBytes += n - start
    }
    yield* ready
  }
  if (content) rows++
  if (rows > 0 || (opts.rows === 0 && index === 0)) {
    let bytes = spanBytes(parts, EMPTY, 0, 0, partsBytes)
    if (bytes.length > 0 && bytes[bytes.length - 1] === NL) bytes = bytes.subarray(0, -1)
    yield {index, firstRow, rows, format: 'ndjson', bytes, firstLine: chunkLine}
  }
}
