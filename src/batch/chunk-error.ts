import {BurnError} from '../util/errors.js'
import type {JobError} from '../engines/protocol.js'
import {engineError} from '../engines/engine-error.js'

/** Where a failed chunk sits in the input: rows are counted from 1, like lines. */
export interface ChunkPlace {
  index: number
  firstRow: number
  rows: number
}

/** A failed chunk as a BurnError (exit code of its kind), its message naming the chunk and rows. */
export function chunkError(e: JobError, place: ChunkPlace, hash: string): BurnError {
  const base = engineError(e, {hash})
  const data: Record<string, unknown> = {...base.data, chunk: place.index + 1, ...rowRange(place)}
  let where = ''
  // an invalid row: which one, and its line in the input
  if (e.kind === 'badData' && e.row !== undefined) {
    data.row = place.firstRow + e.row + 1
    where = `row ${data.row}`
    if (e.line !== undefined) {
      data.line = e.line
      where += ` (line ${e.line})`
    }
    where += ': '
  }
  return new BurnError(base.kind, `${describePlace(place)}: ${where}${base.message}`, data)
}

export function describePlace(p: ChunkPlace): string {
  const r = rowRange(p)
  const rows = r.firstRow === undefined ? 'no rows' : r.firstRow === r.lastRow ? `row ${r.firstRow}` : `rows ${r.firstRow}-${r.lastRow}`
  return `chunk ${p.index + 1} (${rows})`
}

function rowRange(p: ChunkPlace): {firstRow?: number; lastRow?: number} {
  return p.rows === 0 ? {} : {firstRow: p.firstRow + 1, lastRow: p.firstRow + p.rows}
}

/** One line of --on-error emit: the chunk, its rows, the exit code and kind its error has, the message. */
export function chunkErrorRecord(err: BurnError): Record<string, unknown> {
  const {chunk, firstRow, lastRow, line, row, limit} = err.data as Record<string, unknown>
  const message = err.message.replace(/^chunk \d+ \([^)]*\): /, '')
  return {
    chunk,
    firstRow,
    lastRow,
    ...(row !== undefined ? {row} : {}),
    ...(line !== undefined ? {line} : {}),
    code: err.exitCode,
    kind: err.kind,
    ...(limit !== undefined ? {limit} : {}),
    message,
  }
}
