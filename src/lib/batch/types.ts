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
  /** UTF-8. json: a JSON array text; ndjson: the chunk's lines, without the newline of the last one. */
  bytes: Buffer
  /** 1-based input line of the chunk's first line (ndjson) or first element (json). */
  firstLine: number
}

export interface ChunkOptions {
  /** Rows per chunk; 0 = the whole input as one chunk (always exactly one call, even for no rows). */
  rows: number
  /** A chunk also ends once it holds this many bytes (the default chunking only). */
  maxBytes: number
}
