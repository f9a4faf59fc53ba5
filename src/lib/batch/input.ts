import {createReadStream} from 'node:fs'
import type {Readable} from 'node:stream'
import {BurnError, notFoundError} from '../errors.js'
import {isBlankByte} from './json-array.js'
import {jsonChunks} from './json-chunks.js'
import {ndjsonChunks} from './ndjson-chunks.js'
import type {Chunk, ChunkOptions, InputFormat} from './types.js'

export interface RowSource {
  format: InputFormat
  chunks: AsyncGenerator<Chunk>
  /** Stops reading (the batch ended early). */
  close(): void
}

const READ_BYTES = 1 << 20

/**
 * Opens the rows: a file (`-` or none = stdin), read in 1 MiB pieces and never whole. `auto`
 * looks at the first byte that is not blank (after a UTF-8 BOM): '[' is a JSON array, anything
 * else NDJSON (as jq reads a stream of values, a single object is one row). A file of NDJSON
 * rows that are themselves arrays starts with '[' too: the JSON reader then names the second
 * line and suggests --input-format ndjson.
 */
export async function openRows(opts: {file?: string; format: 'auto' | InputFormat; chunk: ChunkOptions}): Promise<RowSource> {
  const stream: Readable = opts.file === undefined || opts.file === '-' ? process.stdin : createReadStream(opts.file, {highWaterMark: READ_BYTES})
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const head: Buffer[] = []
  let first: number | undefined
  let bom = false
  try {
    for (;;) {
      const r = await it.next()
      if (r.done) break
      let buf = r.value
      if (head.length === 0 && !bom && buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
        bom = true
        buf = buf.subarray(3)
      }
      head.push(buf)
      const at = buf.findIndex((b) => !isBlankByte(b))
      if (at >= 0) {
        first = buf[at]
        break
      }
    }
  } catch (error) {
    stream.destroy()
    throw readError(error, opts.file)
  }
  const format: InputFormat = opts.format !== 'auto' ? opts.format : first === 0x5b ? 'json' : 'ndjson'
  async function* buffers(): AsyncGenerator<Buffer> {
    yield* head
    head.length = 0
    try {
      for (;;) {
        const r = await it.next()
        if (r.done) return
        yield r.value
      }
    } catch (error) {
      throw readError(error, opts.file)
    }
  }
  const chunks = format === 'json' ? jsonChunks(buffers(), opts.chunk) : ndjsonChunks(buffers(), opts.chunk)
  return {format, chunks, close: () => stream.destroy()}
}

function readError(error: unknown, file: string | undefined): Error {
  if (error instanceof BurnError) return error
  const e = error as NodeJS.ErrnoException
  const name = file === undefined || file === '-' ? 'stdin' : `input file ${file}`
  if (e.code === 'ENOENT') return notFoundError(`${name} does not exist`)
  return new BurnError('badData', `cannot read ${name}: ${e.message}`, {errno: e.code})
}
