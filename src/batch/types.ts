import type {BurnError} from '../util/errors.js'
import type {RunnerPool} from '../runners/pool.js'
import type {Limits} from '../engines/protocol.js'
import type {EngineName} from '../engines/tag.js'

export type InputFormat = 'json' | 'ndjson'
export type OutputFormat = 'ndjson' | 'json'
export type OnError = 'fail' | 'skip' | 'emit'

/** A run of consecutive input rows, sent to one runner as one job. Rows and lines are counted from 0 and 1. */
export interface Chunk {
  /** 0-based position of the chunk in the input. */
  index: number
  /** 0-based index of the chunk's first row in the whole input. */
  firstRow: number
  rows: number
  format: InputFormat
  /** Where the chunk's bytes are in the input: ndjson, its lines; json, its elements and the commas between them. */
  offset: number
  length: number
  /**
   * The bytes themselves, when the input is not a regular file (a runner cannot read a pipe
   * again): ndjson, the lines; json, the elements as one JSON array (brackets added).
   */
  bytes?: Buffer
  /** 1-based input line of the chunk's first line (ndjson) or first element (json). */
  firstLine: number
}

export interface ChunkOptions {
  /** Rows per chunk; 0 = the whole input as one chunk (always exactly one call, even for no rows). */
  rows: number
  /** A chunk also ends once it holds this many bytes (the default chunking only). */
  maxBytes: number
  /** Absolute offset of the first byte the chunker sees (after a BOM). */
  startOffset: number
  /** Keep each chunk's bytes (input that runners cannot read themselves, or rows --memo looks up). */
  keepBytes: boolean
  /**
   * The source reads every piece into the same buffer: a chunk's bytes are a view of it, good
   * until the next chunk is asked for (what a chunk keeps of an earlier piece is copied).
   */
  reused?: boolean
}

export interface BatchOptions {
  ref: string
  /** --engine; undefined: the script's registered engine (trust.ts). */
  engine?: EngineName
  limits: Limits
  /**
   * Makes the pool (depth 2) for the engine the script resolved to, before the input is
   * opened, so runner startup overlaps opening it.
   */
  pool: (engine: EngineName) => RunnerPool
  concurrency: number
  input: {file?: string; format: 'auto' | InputFormat}
  /** undefined: the measured default; 0: the whole input in one call. */
  chunkSize?: number
  output: {file?: string; format: OutputFormat}
  onError: OnError
  /** --memo: rows whose result a batch stored before are not run again (batch/memo/batch-memo.ts). */
  memo?: boolean
  /** --on-error emit: called once per failed chunk, in input order. */
  onChunkError?: (error: BurnError) => void
  onProgress?: (p: BatchProgress) => void
}

export interface BatchProgress {
  rowsIn: number
  rowsOut: number
  chunksFailed: number
  elapsedMs: number
}

export interface BatchSummary extends BatchProgress {
  hash?: string
  engine: EngineName
  inputFormat?: InputFormat
  outputFormat: OutputFormat
  chunkSize: number
  concurrency: number
  chunks: number
  /** stdout was closed by its reader (EPIPE): the batch stopped early, which is not an error. */
  outputClosed: boolean
  /** --memo only: rows that a runner computed, and rows written from the store. */
  rowsComputed?: number
  rowsReused?: number
}

/** The outcome: a summary always, and the error that ended the batch, if one did. */
export interface BatchOutcome {
  summary: BatchSummary
  error?: Error
}
