import {checkChunkSize, kept, spanBytes} from './span.js'
import type {Chunk, ChunkOptions} from './types.js'

const NL = 0x0a

/**
 * NDJSON, streamed: one JSON value per line; blank lines (spaces, tabs, CR only) are skipped but
 * still counted, so line numbers in errors are the file's own. Chunks end at a newline. burn's
 * main process only looks for newlines (natively); the runner decodes and parses the lines,
 * reading them from the file itself when it can (`opts.keepBytes` false).
 */
export async function* ndjsonChunks(source: AsyncIterable<Buffer>, opts: ChunkOptions): AsyncGenerator<Chunk> {
  let index = 0
  let firstRow = 0
  let line = 1
  let chunkLine = 1
  let rows = 0
  let content = false
  let parts: Buffer[] = []
  /** absolute offset of the current buffer's first byte, and of the current chunk's */
  let base = opts.startOffset
  let chunkStart = base

  for await (const buf of source) {
    const ready: Chunk[] = []
    const n = buf.length
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
      if (rows > 0 && ((opts.rows > 0 && rows >= opts.rows) || base + nl - chunkStart >= opts.maxBytes)) {
        const length = base + nl - chunkStart
        checkChunkSize(length)
        const bytes = opts.keepBytes ? spanBytes(parts, buf, Math.max(0, chunkStart - base), nl) : undefined
        ready.push({index: index++, firstRow, rows, format: 'ndjson', offset: chunkStart, length, bytes, firstLine: chunkLine})
        firstRow += rows
        rows = 0
        chunkLine = line
        parts = []
        chunkStart = base + pos
      }
    }
    if (opts.keepBytes && base + n > chunkStart) parts.push(kept(buf.subarray(Math.max(0, chunkStart - base)), opts))
    base += n
    checkChunkSize(base - chunkStart)
    yield* ready
  }
  if (content) rows++
  // the last chunk may end with a newline and blank lines: the runner skips them
  if (rows > 0 || (opts.rows === 0 && index === 0)) {
    const bytes = opts.keepBytes ? spanBytes(parts, Buffer.alloc(0), 0, 0) : undefined
    yield {index, firstRow, rows, format: 'ndjson', offset: chunkStart, length: base - chunkStart, bytes, firstLine: chunkLine}
  }
}
