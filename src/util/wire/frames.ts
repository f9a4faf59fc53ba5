/*
 * The framing that burn's byte-stream wire formats share: a frame is one type byte (a latin1
 * letter), a 32-bit big-endian length and that many bytes, so payloads travel as raw bytes,
 * never re-encoded. The run daemon's frames (run/daemon/frames.ts) and a runner's call channel
 * (runners/call-channel.ts) are each their own letters and payloads over it.
 */

export const FRAME_HEAD = 5

/** A frame of `size` bytes whose header is written (`n` payload bytes); the payload goes from FRAME_HEAD on. */
export function frameBuffer(type: string, n: number, size = FRAME_HEAD + n): Buffer {
  const out = Buffer.allocUnsafe(size)
  out.write(type, 0, 'latin1')
  out.writeUInt32BE(n, 1)
  return out
}

/** A frame as its header and its body: written one after the other, the body is never copied. */
export function frameParts(type: string, payload: Buffer | string): [Buffer, Buffer] {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload
  return [frameBuffer(type, body.length, FRAME_HEAD), body]
}

export class FrameTooLarge extends Error {}

/**
 * Splits a byte stream back into frames. Chunks are kept apart until the frame they complete
 * is whole, then joined once: a 40 MB frame in 64 KiB chunks is copied twice, not once per
 * chunk as a join per push would (that made stdin through the run daemon quadratic).
 */
export class FrameReader<T extends string = string> {
  private parts: Buffer[] = []
  private size = 0
  /** Bytes needed before anything can be parsed: a header, or the frame that header announced. */
  private need = FRAME_HEAD

  /**
   * `max`: the largest payload accepted; a header announcing more throws FrameTooLarge before its
   * payload is held. After a throw (that, or one from `onFrame`) the reader is not to be used again.
   */
  constructor(private readonly max: number) {}

  push(chunk: Buffer): Array<{type: T; payload: Buffer}> {
    const out: Array<{type: T; payload: Buffer}> = []
    this.each(chunk, (type, buf, start, end) => out.push({type, payload: buf.subarray(start, end)}))
    return out
  }

  /**
   * push() without an object per frame: `onFrame` gets each whole frame's type and where its
   * payload lies in `buf` (valid during the call only). For streams of many small frames.
   */
  each(chunk: Buffer, onFrame: (type: T, buf: Buffer, start: number, end: number) => void): void {
    this.parts.push(chunk)
    this.size += chunk.length
    if (this.size < this.need) return
    const buf = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size)
    let at = 0
    this.need = FRAME_HEAD
    while (buf.length - at >= FRAME_HEAD) {
      const len = buf.readUInt32BE(at + 1)
      if (len > this.max) throw new FrameTooLarge(`a frame of ${len} bytes`)
      if (buf.length - at < FRAME_HEAD + len) {
        this.need = FRAME_HEAD + len
        break
      }
      onFrame(buf.toString('latin1', at, at + 1) as T, buf, at + FRAME_HEAD, at + FRAME_HEAD + len)
      at += FRAME_HEAD + len
    }
    if (at === buf.length) {
      this.parts.length = 0
      this.size = 0
    } else {
      this.parts = [buf.subarray(at)]
      this.size = buf.length - at
    }
  }
}
