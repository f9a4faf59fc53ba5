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

/**
 * What the parent asks a runner process to do.
 *
 * Rows mode (`rows: true`, one chunk of `burn batch`; Afterburner's execute_batch): `input` holds
 * the chunk's rows, as one JSON array text (`rowsIn` 'json', the default) or as NDJSON lines
 * ('ndjson': one value per line, blank lines skipped, the first line being input line
 * `firstLine`). `rowCount`, when given, is how many rows the parent counted in it. The script is
 * called once with the rows as an array and must return an array. The result's `output` is then
 * the returned elements, each serialized as JSON, joined by `rowSeparator` ('\n' by default; no
 * separator after the last one, '' for no element), and `rows` their count. A runner may keep
 * the script loaded between rows jobs of the same (hash, tag): its module body runs once per
 * runner, not once per chunk. engines/rows.ts parses and serializes rows for any engine.
 *
 * On the wire to and from a runner, a rows job's text may travel as UTF-8 bytes (`inputBytes`,
 * `outputBytes`), or as a byte range of a regular file that the runner reads itself
 * (`inputRange`: `prefix` + the bytes + `suffix`), so that burn's main process never turns rows
 * into strings; runner-main.ts converts, and engines see `input` and set `output` as strings,
 * except that NDJSON rows reach the engine as `inputBytes`, which parseRows (rows.ts) decodes
 * piece by piece.
 */
export type Job =
  | {op: 'compile'; engine: EngineName; tag: string; hash: string; source: Uint8Array; filename: string; limits: Limits}
  | {
      op: 'run'
      engine: EngineName
      tag: string
      hash: string
      sourcePath: string
      compiledPath: string
      input: string
      limits: Limits
      /** quickjs: Date.now() and new Date() read this fixed time (ms since the epoch): run --memo */
      clock?: number
      rows?: boolean
      rowsIn?: 'json' | 'ndjson'
      rowCount?: number
      firstLine?: number
      rowSeparator?: string
      inputBytes?: Uint8Array
      inputRange?: InputRange
      // the API's warm pool: keep the module instance for later calls, at most `keep` scripts per runner (LRU)
      keep?: number
    }

/** Where a run job's script lives: what a runner may load before its call arrives. */
export type ScriptFiles = Pick<Extract<Job, {op: 'run'}>, 'engine' | 'tag' | 'hash' | 'sourcePath' | 'compiledPath'>

export interface InputRange {
  path: string
  offset: number
  length: number
  prefix?: string
  suffix?: string
}

export type CacheOutcome = 'hit' | 'miss' | 'rejected' | 'corrupt' | 'none'

export type JobError =
  | {kind: 'compile'; message: string; line?: number; column?: number}
  | {kind: 'script'; message: string; stack?: string}
  | {kind: 'limit'; limit: LimitName; message: string}
  // rows mode: `row` is the 0-based row of the chunk that is not valid JSON, `line` its input line
  | {kind: 'badData'; message: string; row?: number; line?: number}
  | {kind: 'sourceDamaged'; message: string}
  | {kind: 'internal'; message: string}

export type JobResult =
  // preloaded: the runner had loaded the script before the call came (the run daemon's preload)
  | {
      ok: true
      output?: string
      outputBytes?: Uint8Array
      rows?: number
      cachedData?: Uint8Array
      cache: CacheOutcome
      cacheReason?: string
      compileMs: number
      runMs: number
      preloaded?: boolean
      // warm: the script's module body had run before the call came (engines/warm.ts)
      warm?: boolean
    }
  | {
      ok: false
      error: JobError
      cache?: CacheOutcome
      cacheReason?: string
      cachedData?: Uint8Array
      compileMs?: number
      /** The runner ends after this answer (a script's timer threw): the jobs queued behind it never started. */
      last?: boolean
    }
