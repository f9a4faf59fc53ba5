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
  /** Keep each chunk's bytes (input that runners cannot read themselves). */
  keepBytes: boolean
}
