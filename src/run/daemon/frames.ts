/*
 * The run daemon's wire format. A `burn run` client sends one request frame; the daemon answers
 * with the call's stdout and stderr bytes as they come, then its exit code. A frame is a type
 * byte, a 32-bit big-endian length and that many bytes (util/wire/frames.ts): output is relayed
 * as raw bytes, never re-encoded.
 */
import type {Limits} from '../../engines/protocol.js'
import {FrameReader as WireFrameReader, frameParts as wireFrameParts, FrameTooLarge} from '../../util/wire/frames.js'
import {isRunRequest, type RunRequest} from '../request.js'

// R: a call (a DaemonCall, client -> daemon); o, e: its stdout and stderr bytes, x: its exit
// code, k: a keepalive (daemon -> client). S: stop (burn daemon stop -> daemon), answered by s:
// the token of the daemon's lock. (A run child's events to its supervisor are another format,
// with letters of their own: run/events.ts.)
export type FrameType = 'R' | 'o' | 'e' | 'x' | 'S' | 's' | 'k'

/** A daemon sends a keepalive (`k`, empty) this often while a call of a client is in flight. */
export const KEEPALIVE_MS = 1000
/**
 * A client gives up on a daemon that sent nothing, keepalives included, for this long (stopped,
 * stuck). Generous: on a loaded 2-core machine a working daemon was seen silent for over 5 s,
 * and a needless fallback runs the call a second time.
 */
export const SILENCE_MS = 15_000

/**
 * What a client asks (the R frame's JSON, which the daemon hands its runner as it came): the
 * run, parsed by the client, and what the daemon cannot see of the client: its working
 * directory and its stdin text (null: a terminal).
 */
export interface DaemonCall {
  run: RunRequest
  cwd: string
  stdin: string | null
}

/** The call in an R frame, or undefined when it is not one (anything else: not JSON, a field missing or of the wrong type). */
export function parseCall(payload: Buffer): DaemonCall | undefined {
  let call: Partial<DaemonCall> | null
  try {
    call = JSON.parse(payload.toString()) as Partial<DaemonCall> | null
  } catch {
    return undefined
  }
  const ok =
    typeof call === 'object' &&
    call !== null &&
    isRunRequest(call.run) &&
    typeof call.cwd === 'string' &&
    (call.stdin === null || typeof call.stdin === 'string')
  return ok ? (call as DaemonCall) : undefined
}

/** What a pooled runner prepares while it waits for its call: the store, and the script of the call expected next. */
export interface PooledHint {
  cacheDir: string
  script?: {engine: string; hash: string}
  /** The call expected next is a quickjs call with these limits: its sandbox is made ahead. */
  quickjs?: Limits
  /**
   * The call expected next has these limits: the script's module body runs ahead under them
   * (engines/warm.ts), and the runner tells its start and end (run/events.ts `b`, `B`).
   */
  limits?: Limits
}

/**
 * What the daemon knows that its client does not, written to a pooled runner's stdin as one
 * line of JSON before the call: the shared remote cache failed for an earlier call and is in
 * its cooldown (store/remote/config.ts DEFAULT_COOLDOWN_MS) for `leftMs` more.
 */
export interface RunnerNote {
  remoteCooldown?: {why: string; leftMs: number}
}

/** A frame as its header and its body: written one after the other, the body is never copied. */
export const frameParts = (type: FrameType, payload: Buffer | string): [Buffer, Buffer] => wireFrameParts(type, payload)

export const frame = (type: FrameType, payload: Buffer | string): Buffer => Buffer.concat(frameParts(type, payload))

/**
 * The largest frame either side accepts: a request carries the call's stdin, so a bigger stdin
 * runs directly (client.ts), and a header announcing more is refused before anything is held.
 */
export const MAX_FRAME = 256 * 1024 * 1024

export {FrameTooLarge}

/** Splits a client's or daemon's byte stream back into frames (util/wire/frames.ts); over MAX_FRAME throws FrameTooLarge. */
export class FrameReader extends WireFrameReader<FrameType> {
  constructor() {
    super(MAX_FRAME)
  }
}
