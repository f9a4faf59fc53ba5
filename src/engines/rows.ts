import {splitArrayText} from '../util/json/array.js'
import {SerializeError, serializeElements} from '../util/result.js'
import type {Job, JobError, JobResult} from './protocol.js'

/*
 * Rows mode for any engine (engines/protocol.ts, "Rows mode"): the chunk's text -> an array of rows, and
 * the script's returned array -> one serialized element per line. Parsing happens in the runner,
 * not in burn's main process, so it runs in parallel; the main process only finds boundaries.
 */
type RunJob = Extract<Job, {op: 'run'}>

const BLANK_LINE = /^[ \t\r]*$/
const NEWLINE = 0x0a

export function parseRows(job: RunJob): unknown[] | JobError {
  const firstLine = job.firstLine ?? 1
  return job.rowsIn === 'ndjson'
    ? parseLines(job.inputBytes ?? job.input, firstLine, job.rowCount)
    : parseArray(job.input, firstLine, job.rowCount)
}

/**
 * NDJSON bytes are decoded this much at a time, cut after a newline. A chunk decoded whole is
 * usually one string above V8's largest regular object (128 KiB), which goes to the large-object
 * space, outlives the young generation and is only freed by a full GC: every chunk's input then
 * piles up in the old generation, and the runner's memory grows with the batch's length.
 */
const PIECE_BYTES = 64 * 1024

/** One JSON.parse per line: joining lines into one array text would be about 10% faster, but
 * would also accept a value split over two lines (`[1,` / `2]`), which is not NDJSON. */
function parseLines(input: string | Uint8Array, firstLine: number, expected?: number): unknown[] | JobError {
  const rows: unknown[] = []
  let line = firstLine
  const parse = (text: string): JobError | undefined => {
    for (let pos = 0; pos < text.length;) {
      let end = text.indexOf('\n', pos)
      if (end === -1) end = text.length
      if (end > pos) {
        const s = text.slice(pos, end)
        try {
          rows.push(JSON.parse(s))
        } catch (error) {
          if (!BLANK_LINE.test(s)) return {kind: 'badData', message: `invalid JSON: ${(error as Error).message}`, row: rows.length, line}
        }
      }
      line++
      pos = end + 1
    }
    return undefined
  }
  if (typeof input === 'string') {
    const e = parse(input)
    if (e) return e
  } else {
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
    for (let start = 0; start < bytes.length;) {
      let end = bytes.length
      if (end - start > PIECE_BYTES) {
        // after a newline, so at a character boundary; a line longer than a piece is one piece
        end = bytes.lastIndexOf(NEWLINE, start + PIECE_BYTES - 1) + 1
        if (end <= start) end = bytes.indexOf(NEWLINE, start + PIECE_BYTES) + 1 || bytes.length
      }
      const e = parse(bytes.toString('utf8', start, end))
      if (e) return e
      start = end
    }
  }
  if (expected !== undefined && rows.length !== expected) {
    return {kind: 'internal', message: `the chunk has ${rows.length} rows, the reader counted ${expected}`}
  }
  return rows
}

function parseArray(text: string, firstLine: number, expected?: number): unknown[] | JobError {
  let rows: unknown
  try {
    rows = JSON.parse(text)
  } catch (error) {
    return locateBadElement(text, firstLine) ?? {kind: 'badData', message: `invalid JSON: ${(error as Error).message}`}
  }
  if (!Array.isArray(rows)) return {kind: 'badData', message: `input must be a JSON array; got ${typeName(rows)}`}
  if (expected !== undefined && rows.length !== expected) {
    return {kind: 'internal', message: `the chunk has ${rows.length} rows, the reader counted ${expected}`}
  }
  return rows
}

/** The error path: the first element that does not parse on its own, with its input line. */
function locateBadElement(text: string, firstLine: number): JobError | undefined {
  const elements = splitArrayText(text)
  for (let i = 0; i < elements.length; i++) {
    try {
      JSON.parse(elements[i].text)
    } catch (error) {
      const line = firstLine + elements[i].line - 1
      return {kind: 'badData', message: `invalid JSON: ${(error as Error).message}`, row: i, line}
    }
  }
  return undefined
}

/** The script's result -> {output, rows}; throws SerializeError (badData) for a non-array or a non-JSON element. */
export function serializeRows(result: unknown, separator = '\n'): {output: string; rows: number} {
  if (!Array.isArray(result)) throw new SerializeError(`script must return an array; got ${typeName(result)}`, '$')
  return {output: serializeElements(result, separator), rows: result.length}
}

/**
 * Rows mode for an engine that implements only plain runs: the rows are parsed here and passed
 * as one JSON array input; the result must be an array, and is serialized here. Slower than an
 * engine doing it itself (one more stringify and parse of the chunk), always correct.
 */
export async function runRowsAsPlainRun(job: RunJob, run: (job: Job) => Promise<JobResult>): Promise<JobResult> {
  const rows = parseRows(job)
  if (!Array.isArray(rows)) return {ok: false, error: rows}
  const plain: RunJob = {
    ...job,
    input: JSON.stringify(rows),
    inputBytes: undefined,
    rows: undefined,
    rowsIn: undefined,
    rowCount: undefined,
    firstLine: undefined,
    rowSeparator: undefined,
  }
  const r = await run(plain)
  if (!r.ok) return r
  let value: unknown
  try {
    value = JSON.parse(r.output ?? 'null')
  } catch {
    return {ok: false, error: {kind: 'internal', message: `the ${job.engine} engine returned invalid JSON`}}
  }
  try {
    return {...r, ...serializeRows(value, job.rowSeparator)}
  } catch (error) {
    return {ok: false, error: {kind: 'badData', message: (error as Error).message}}
  }
}

export function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v
}
