/*
 * The run daemon's wire format. A `burn run` client sends one request frame; the daemon answers
 * with the call's stdout and stderr bytes as they come, then its exit code. A frame is a type
 * byte, a 32-bit big-endian length and that many bytes: output is relayed as raw bytes, never
 * re-encoded.
 */
import type {Limits} from '../../lib/engines/protocol.js'

export type FrameType = 'R' | 'o' | 'e' | 'x'

/** What a client asks: the run's argv (with --cache-dir made explicit), its cwd, its stdin text (null: a terminal). */
export interface PooledRequest {
  argv: string[]
  cwd: string
  stdin: string | null
}

/** What a pooled runner prepares while it waits for its call: the store, and the script of the call expected next. */
export interface PooledHint {
  cacheDir: string
  script?: {engine: string; hash: string}
  /** The call expected next is a quickjs call with these limits: its sandbox is made ahead. */
  quickjs?: Limits
}

/** A frame as its header and its body: written one after the other, the body is never copied. */
export function frameParts(type: FrameType, payload: Buffer | string): [Buffer, Buffer] {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload
  const head = Buffer.allocUnsafe(5)
  head.write(type, 0, 'latin1')
  head.writeUInt32BE(body.length, 1)
  return [head, body]
}

export const frame = (type: FrameType, payload: Buffer | string): Buffer => Buffer.concat(frameParts(type, payload))

/** Splits a byte stream back into frames. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0)

  push(chunk: Buffer): Array<{type: FrameType; payload: Buffer}> {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    const out: Array<{type: FrameType; payload: Buffer}> = []
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1)
      if (this.buf.length < 5 + len) break
      out.push({type: this.buf.toString('latin1', 0, 1) as FrameType, payload: this.buf.subarray(5, 5 + len)})
      this.buf = this.buf.subarray(5 + len)
    }
    return out
  }
}
