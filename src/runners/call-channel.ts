import {nodeV8} from '../util/builtins.js'
import type {CacheOutcome, Job, JobResult} from '../engines/protocol.js'
import {FRAME_HEAD, frameBuffer, FrameReader} from '../util/wire/frames.js'

/*
 * A runner's call channel: a pipe beside node's IPC channel, for runners that take one small job
 * after another (the API's warm pool, over 10,000 calls a second). node's IPC (`serialization:
 * 'advanced'`) costs a V8 serializer, a deserializer and several objects per message on each
 * side, and a write per message. On the 2-core machine a bare round trip over such a pipe ran at
 * ~340,000 calls/s with a p99 of 0.55 ms; the warm pool over IPC made ~30,000 calls/s at 64 in
 * flight with a p99 of ~9 ms, mostly its caller's GC pauses, which hold up every call in flight.
 *
 * Frames as util/wire/frames.ts makes them (a type letter, a 32-bit length, the payload):
 *  - J (to the runner): a job as JSON text; a job that holds bytes (compile, rows) goes as V.
 *  - O (from the runner): a success that is its output text and a few fields: a flags byte
 *    (cache outcome, preloaded, warm, has a reason), compileMs and runMs as f64, the cache
 *    reason's length (u16) and text, then the output as UTF-8.
 *  - V (either way): anything else, as v8.serialize writes it (errors, code caches, bytes).
 * Answers come in the order of the jobs, as over IPC (runner-main.ts).
 */

/** The largest frame read: a Buffer's own bound on this platform; the runner and burn are the only writers. */
const MAX_FRAME = 2 ** 31 - 1
const OK_HEAD = 1 + 8 + 8 + 2
const OUTCOMES: CacheOutcome[] = ['none', 'hit', 'miss', 'rejected', 'corrupt']
const PRELOADED = 8
const WARM = 16
const REASON = 32

const frameOf = (type: 'J' | 'O' | 'V', n: number): Buffer => frameBuffer(type, n)

function serialized(value: Job | JobResult): Buffer {
  const body = nodeV8().serialize(value)
  const out = frameOf('V', body.length)
  body.copy(out, FRAME_HEAD)
  return out
}

export function encodeJob(job: Job): Buffer {
  if (job.op === 'compile' || job.inputBytes !== undefined || job.inputRange !== undefined) return serialized(job)
  const text = JSON.stringify(job)
  const out = frameOf('J', Buffer.byteLength(text))
  out.write(text, FRAME_HEAD)
  return out
}

/** Whether `r` is a plain success: its output text and the fields an O frame holds. */
function plainOk(r: JobResult): r is Extract<JobResult, {ok: true}> & {output: string} {
  return (
    r.ok &&
    typeof r.output === 'string' &&
    r.outputBytes === undefined &&
    r.cachedData === undefined &&
    r.rows === undefined &&
    (r.cacheReason === undefined || r.cacheReason.length < 4096) &&
    OUTCOMES.includes(r.cache)
  )
}

export function encodeResult(r: JobResult): Buffer {
  if (!plainOk(r)) return serialized(r)
  const reason = r.cacheReason ?? ''
  const m = Buffer.byteLength(reason)
  const out = frameOf('O', OK_HEAD + m + Buffer.byteLength(r.output))
  const at = FRAME_HEAD
  out[at] = OUTCOMES.indexOf(r.cache) | (r.preloaded ? PRELOADED : 0) | (r.warm ? WARM : 0) | (r.cacheReason === undefined ? 0 : REASON)
  out.writeDoubleLE(r.compileMs, at + 1)
  out.writeDoubleLE(r.runMs, at + 9)
  out.writeUInt16LE(m, at + 17)
  out.write(reason, at + OK_HEAD)
  out.write(r.output, at + OK_HEAD + m)
  return out
}

/** The last cache reason decoded: a runner gives the same one call after call ("loaded earlier by this runner"). */
let lastReason = {bytes: Buffer.alloc(0), text: ''}

function reasonText(b: Buffer, start: number, end: number): string {
  const {bytes} = lastReason
  if (bytes.length !== end - start || b.compare(bytes, 0, bytes.length, start, end) !== 0)
    lastReason = {bytes: Buffer.from(b.subarray(start, end)), text: b.toString('utf8', start, end)}
  return lastReason.text
}

function decodeOk(b: Buffer, at: number, end: number): JobResult {
  const flags = b[at]
  const reasonAt = at + OK_HEAD
  const outAt = reasonAt + b.readUInt16LE(at + 17)
  const r: JobResult = {
    ok: true,
    output: b.toString('utf8', outAt, end),
    cache: OUTCOMES[flags & 7],
    compileMs: b.readDoubleLE(at + 1),
    runMs: b.readDoubleLE(at + 9),
  }
  if (flags & REASON) r.cacheReason = reasonText(b, reasonAt, outAt)
  if (flags & PRELOADED) r.preloaded = true
  if (flags & WARM) r.warm = true
  return r
}

function decode<T>(type: 'J' | 'O' | 'V', b: Buffer, start: number, end: number): T {
  if (type === 'J') return JSON.parse(b.toString('utf8', start, end)) as T
  if (type === 'O') return decodeOk(b, start, end) as T
  if (type === 'V') return nodeV8().deserialize(b.subarray(start, end)) as T
  throw new Error(`call channel: unknown frame type ${JSON.stringify(type)}`)
}

/** Jobs (in a runner) or results (in burn) from the channel's byte stream, a partial frame held until the rest comes. */
export class ChannelReader<T extends Job | JobResult> {
  private readonly frames = new FrameReader<'J' | 'O' | 'V'>(MAX_FRAME)

  /** Calls `each` with every whole job or result in the stream so far, in order. */
  push(chunk: Buffer, each: (value: T) => void): void {
    this.frames.each(chunk, (type, b, start, end) => each(decode<T>(type, b, start, end)))
  }
}
