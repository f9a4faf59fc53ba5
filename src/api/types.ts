import type {EngineName} from '../engines/tag.js'
import type {ForgetOutcome} from '../maintenance/forget.js'
import type {ScriptInfo} from '../maintenance/catalog.js'
import type {StatsReport} from '../maintenance/stats-report.js'
import type {VerifyReport} from '../maintenance/verify.js'
import type {GcReport} from '../maintenance/gc.js'
import type {RegisterOutcome} from '../register/register.js'

/*
 * The public types of burn's library API (README, "API"). Everything here is what a user's
 * editor shows: each option says its default and the CLI flag it stands for.
 */

export type {EngineName, ForgetOutcome, ScriptInfo, StatsReport, VerifyReport, GcReport, RegisterOutcome}

/**
 * `'instance'` (the default): a runner keeps the module instance of each script it ran (up to
 * `warm.scripts` per runner), so a script's module body runs once per runner and module-level
 * state lives across calls, as in `burn batch`. `'call'`: every call gets a fresh runner
 * process, as every `burn run` does (no state shared between calls; a process start per call).
 */
export type Isolation = 'instance' | 'call'

export interface CacheOptions {
  /** The store (default: BURN_CACHE_DIR, else the CLI's default); the CLI's --cache-dir. */
  cacheDir?: string
  /** Shared remote cache URL (redis://..., rediss://..., unix://...) for register and for runs of scripts not stored here; default BURN_REMOTE. */
  remote?: string
  /** Runner processes per engine (default: the number of CPUs; at most 4 per CPU). */
  concurrency?: number
  isolation?: Isolation
  /**
   * Calls admitted at once, waiting or running (default 1024). One more is refused at once
   * with a BurnError of kind 'limit' (code 6, `data.limit` 'in-flight'): admission control,
   * never an unbounded queue.
   */
  maxInFlight?: number
  /** Limits of every call that does not give its own (default: the CLI's defaults, 5s, 512MiB, 64MiB output, 1MiB log). */
  limits?: CallLimits
  warm?: {
    /** Module instances a runner keeps, least recently used dropped first (default 64). */
    scripts?: number
    /** A runner whose resident memory grew by more than this since its first call is replaced, with its instances (default 256 MiB). */
    growth?: number | string
  }
}

/**
 * Limits of one call, as the CLI's flags: a number is milliseconds (timeout) or bytes (sizes),
 * a string reads as the flag would ('500ms', '64MiB').
 */
export interface CallLimits {
  timeout?: number | string
  memory?: number | string
  /** quickjs only: an instruction budget. */
  fuel?: number | string
  maxOutput?: number | string
  maxLog?: number | string
}

/** A call's options: its limits, and the engine (default: the one the script is registered for, the sandbox when both). */
export interface CallOptions extends CallLimits {
  engine?: EngineName
}

export interface RegisterOptions {
  name?: string
  engine?: EngineName
  /** The largest source read from a file (default 64 MiB); the CLI's --max-source. */
  maxSource?: number | string
}

/** A source given as text or bytes (anything else passed to register is a file path). */
export interface SourceText {
  source: string | Uint8Array
  /** How errors name it (default '<source>'). */
  file?: string
}

export interface BatchOptions extends CallOptions {
  /** Rows per call of the script, which gets an array and returns an array, as `burn batch --chunk-size` (default 2000). */
  chunkSize?: number
  /** Chunks running or done and not yet consumed (default: 2 per runner). Rows are read only as results are consumed. */
  window?: number
}

export interface ShowResult extends Partial<ScriptInfo> {
  hash: string
  source: string
}

export interface GcOptions {
  dryRun?: boolean
  keepForeign?: boolean
  /** Default '1h'. */
  tmpAge?: number | string
  maxSize?: number | string
  olderThan?: number | string
}

export interface VerifyOptions {
  fix?: boolean
  keepForeign?: boolean
}

/** What openCache returns. Every method rejects with a BurnError: `code` is the CLI's exit code for it. */
export interface BurnCache {
  readonly cacheDir: string
  /** A file path, or `{source}`; compiles it once per engine, as `burn register`. */
  register(sourceOrFile: string | URL | SourceText, opts?: RegisterOptions): Promise<RegisterOutcome>
  /** Calls the script with `input` (any JSON value); resolves with its result, parsed. */
  run<T = unknown>(ref: string, input?: unknown, opts?: CallOptions): Promise<T>
  /** The same with JSON text in and out, for callers that already hold text: nothing is parsed in this process. */
  runJson(ref: string, inputJson: string, opts?: CallOptions): Promise<string>
  /** Results of `rows` in order, with backpressure: rows are pulled only as results are consumed. */
  batch<T = unknown>(ref: string, rows: Iterable<unknown> | AsyncIterable<unknown>, opts?: BatchOptions): AsyncIterableIterator<T>
  forget(ref: string): Promise<ForgetOutcome>
  list(): Promise<ScriptInfo[]>
  show(ref: string): Promise<ShowResult>
  stats(opts?: {zero?: boolean}): Promise<StatsReport | null>
  verify(opts?: VerifyOptions): Promise<VerifyReport | null>
  gc(opts?: GcOptions): Promise<GcReport | null>
  /**
   * Stops admitting calls (they reject with kind 'usage', code 2), rejects calls not yet
   * started, waits for the calls already running, then ends every runner process and resolves
   * once they have exited. Idempotent.
   */
  close(): Promise<void>
}
