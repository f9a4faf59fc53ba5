import {checkChunkSize, spanBytes} from './span.js'
import {bytesAtLeast} from '../util/scratch.js'
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
  const carry = new Carry(Boolean(opts.reused))
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
        const bytes = opts.keepBytes ? carry.take(buf, Math.max(0, chunkStart - base), nl) : undefined
        ready.push({index: index++, firstRow, rows, format: 'ndjson', offset: chunkStart, length, bytes, firstLine: chunkLine})
        firstRow += rows
        rows = 0
        chunkLine = line
        chunkStart = base + pos
      }
    }
    if (opts.keepBytes && base + n > chunkStart) carry.keep(buf.subarray(Math.max(0, chunkStart - base)))
    base += n
    checkChunkSize(base - chunkStart)
    yield* ready
  }
  if (content) rows++
  // the last chunk may end with a newline and blank lines: the runner skips them
  if (rows > 0 || (opts.rows === 0 && index === 0)) {
    const bytes = opts.keepBytes ? carry.take(Buffer.alloc(0), 0, 0) : undefined
    yield {index, firstRow, rows, format: 'ndjson', offset: chunkStart, length: base - chunkStart, bytes, firstLine: chunkLine}
  }
}

/**
 * The start of a chunk that goes on in the next read, and then the chunk's bytes (--memo). From a
 * stream, whose buffers are its own, they are the buffers' views and a copy of them joined. A
 * regular file is read into one buffer again and again (`reused`): the start is copied out, and
 * the chunk is joined, into two buffers used again, as the chunk's bytes are good only until
 * the next chunk is asked for (input.ts). Only a chunk that began in an earlier read is joined,
 * at most one per read, so the next join comes after that chunk was used. New buffers each time
 * were ~4,000 first-touched pages, ~45 ms, of a 1M-row re-run (bench/batch-memo.mjs).
 */
class Carry {
  private parts: Buffer[] = []
  private kept: Buffer = Buffer.alloc(0)
  private keptBytes = 0
  private joined: Buffer = Buffer.alloc(0)

  constructor(private readonly reused: boolean) {}

  keep(view: Buffer): void {
    if (!this.reused) {
      this.parts.push(view)
      return
    }
    const more = bytesAtLeast(this.kept, this.keptBytes + view.length)
    if (more !== this.kept) {
      this.kept.copy(more, 0, 0, this.keptBytes)
      this.kept = more
    }
    this.keptBytes += view.copy(this.kept, this.keptBytes)
  }

  /** What was kept, then `tail[start, end)`: a view of `tail` when nothing was. */
  take(tail: Buffer, start: number, end: number): Buffer {
    if (!this.reused) {
      const bytes = spanBytes(this.parts, tail, start, end)
      this.parts = []
      return bytes
    }
    if (this.keptBytes === 0) return tail.subarray(start, end)
    const length = this.keptBytes + end - start
    this.joined = bytesAtLeast(this.joined, length)
    this.kept.copy(this.joined, 0, 0, this.keptBytes)
    tail.copy(this.joined, this.keptBytes, start, end)
    this.keptBytes = 0
    return this.joined.subarray(0, length)
  }
}
