import {createReadStream} from 'node:fs'
import {open, type FileHandle} from 'node:fs/promises'
import {resolve} from 'node:path'
import type {Readable} from 'node:stream'
import {BurnError, notFoundError} from '../util/errors.js'
import {isBlankByte} from '../util/json/array.js'
import {jsonChunks} from './json-chunks.js'
import {ndjsonChunks} from './ndjson-chunks.js'
import type {Chunk, ChunkOptions, InputFormat} from './types.js'

export interface RowSource {
  format: InputFormat
  chunks: AsyncGenerator<Chunk>
  /** A regular file that runners read chunks from themselves (absolute path); undefined for stdin or a pipe. */
  path?: string
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
 *
 * A regular file is read here through one reusable buffer, only to find where chunks start and
 * end; each runner reads its chunk's bytes from the file itself. burn's main process then
 * copies no row bytes at all, which keeps it small and its memory flat (under --memo it looks at
 * each chunk's bytes in that buffer, and copies only rows not found: batch/memo/batch-memo.ts). Stdin and
 * pipes cannot be read twice, so their chunks carry their bytes.
 */
export async function openRows(opts: {
  file?: string
  format: 'auto' | InputFormat
  chunk: Pick<ChunkOptions, 'rows' | 'maxBytes'>
  /** Chunks carry their bytes even from a regular file (batch --memo looks at every row). */
  keepBytes?: boolean
}): Promise<RowSource> {
  const fromStdin = opts.file === undefined || opts.file === '-'
  let fh: FileHandle | undefined
  if (!fromStdin) {
    try {
      fh = await open(opts.file!, 'r')
      if (!(await fh.stat()).isFile()) {
        await fh.close()
        fh = undefined
      }
    } catch (error) {
      await fh?.close().catch(() => {})
      throw readError(error, opts.file)
    }
  }
  return fh
    ? openFile(fh, resolve(opts.file!), opts)
    : openStream(fromStdin ? process.stdin : createReadStream(opts.file!, {highWaterMark: READ_BYTES}), opts)
}

async function openFile(
  fh: FileHandle,
  path: string,
  opts: {file?: string; format: 'auto' | InputFormat; chunk: Pick<ChunkOptions, 'rows' | 'maxBytes'>; keepBytes?: boolean},
): Promise<RowSource> {
  const buf = Buffer.allocUnsafe(READ_BYTES)
  let closed = false
  // look for the first non-blank byte (the format) and a BOM
  let startOffset = 0
  let first: number | undefined
  try {
    for (let pos = 0; first === undefined;) {
      const {bytesRead} = await fh.read(buf, 0, buf.length, pos)
      if (bytesRead === 0) break
      const view = buf.subarray(0, bytesRead)
      if (pos === 0 && bytesRead >= 3 && view[0] === 0xef && view[1] === 0xbb && view[2] === 0xbf) startOffset = 3
      const at = view.findIndex((b, i) => pos + i >= startOffset && !isBlankByte(b))
      if (at >= 0) first = view[at]
      pos += bytesRead
    }
  } catch (error) {
    await fh.close().catch(() => {})
    throw readError(error, opts.file)
  }
  async function* buffers(): AsyncGenerator<Buffer> {
    // one buffer, read into again and again: a chunk's bytes (--memo) are good only until the next
    // chunk is asked for (batch/memo/batch-memo.ts prepare); a new 1 MiB buffer per read cost more in
    // first-touched memory than the reading
    try {
      for (let pos = startOffset; !closed;) {
        const {bytesRead} = await fh.read(buf, 0, buf.length, pos)
        if (bytesRead === 0) return
        pos += bytesRead
        yield buf.subarray(0, bytesRead)
      }
    } catch (error) {
      if (!closed) throw readError(error, opts.file)
    } finally {
      closed = true
      await fh.close().catch(() => {})
    }
  }
  const format = pickFormat(opts.format, first)
  const chunk = {...opts.chunk, startOffset, keepBytes: Boolean(opts.keepBytes), reused: true}
  const chunks = format === 'json' ? jsonChunks(buffers(), chunk) : ndjsonChunks(buffers(), chunk)
  return {format, chunks, path, close: () => (closed = true)}
}

async function openStream(
  stream: Readable,
  opts: {file?: string; format: 'auto' | InputFormat; chunk: Pick<ChunkOptions, 'rows' | 'maxBytes'>},
): Promise<RowSource> {
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
  const format = pickFormat(opts.format, first)
  const chunk = {...opts.chunk, startOffset: bom ? 3 : 0, keepBytes: true}
  const chunks = format === 'json' ? jsonChunks(buffers(), chunk) : ndjsonChunks(buffers(), chunk)
  return {format, chunks, close: () => stream.destroy()}
}

function pickFormat(format: 'auto' | InputFormat, first: number | undefined): InputFormat {
  return format !== 'auto' ? format : first === 0x5b ? 'json' : 'ndjson'
}

function readError(error: unknown, file: string | undefined): Error {
  if (error instanceof BurnError) return error
  const e = error as NodeJS.ErrnoException
  const name = file === undefined || file === '-' ? 'stdin' : `input file ${file}`
  if (e.code === 'ENOENT') return notFoundError(`${name} does not exist`)
  return new BurnError('badData', `cannot read ${name}: ${e.message}`, {errno: e.code})
}
