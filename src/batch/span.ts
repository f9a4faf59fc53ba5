import {badDataError} from '../util/errors.js'
import type {ChunkOptions} from './types.js'

/** About the longest string V8 can make (2^29 - 24 UTF-16 units): a chunk must decode into one. */
const MAX_CHUNK_BYTES = (1 << 29) - 24

export function checkChunkSize(bytes: number): void {
  if (bytes > MAX_CHUNK_BYTES) {
    throw badDataError('a chunk is larger than the longest string JavaScript can hold (about 512 MiB); pass a smaller --chunk-size')
  }
}

/** The bytes of `parts` followed by `tail[start, end)`: a view when there are no parts, else one copy. */
export function spanBytes(parts: Buffer[], tail: Buffer, start: number, end: number): Buffer {
  if (parts.length === 0) return tail.subarray(start, end)
  return Buffer.concat([...parts, tail.subarray(start, end)])
}

/** A piece of a read buffer a chunk keeps: a copy when the buffer is read into again. */
export function kept(view: Buffer, opts: Pick<ChunkOptions, 'reused'>): Buffer {
  return opts.reused ? Buffer.from(view) : view
}
