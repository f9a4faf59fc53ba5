import type {EngineName} from './tag.js'

/** Limits of one call (Afterburner's FuelGauge). Sizes in bytes, times in ms. */
export interface Limits {
  timeoutMs: number
  memoryBytes: number
  fuel?: number
  maxOutputBytes: number
  maxLogBytes: number
}

export type LimitName = 'timeout' | 'memory' | 'fuel' | 'max-output' | 'max-log'

/** What the parent asks a runner process to do. */
export type Job =
  | {op: 'compile'; engine: EngineName; tag: string; hash: string; source: Uint8Array; filename: string; limits: Limits}
  | {op: 'run'; engine: EngineName; tag: string; hash: string; sourcePath: string; compiledPath: string; input: string; limits: Limits; rows?: boolean}

export type CacheOutcome = 'hit' | 'miss' | 'rejected' | 'corrupt' | 'none'

export type JobError =
  | {kind: 'compile'; message: string; line?: number; column?: number}
  | {kind: 'script'; message: string; stack?: string}
  | {kind: 'limit'; limit: LimitName; message: string}
  | {kind: 'badData'; message: string}
  | {kind: 'sourceDamaged'; message: string}
  | {kind: 'internal'; message: string}

export type JobResult =
  | {ok: true; output?: string; cachedData?: Uint8Array; cache: CacheOutcome; cacheReason?: string; compileMs: number; runMs: number}
  | {ok: false; error: JobError; cache?: CacheOutcome; cacheReason?: string; cachedData?: Uint8Array; compileMs?: number}
