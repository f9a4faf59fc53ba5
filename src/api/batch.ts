import {chunkError, type ChunkPlace} from '../batch/chunk-error.js'
import {DEFAULT_CHUNK_ROWS} from '../cli/batch-defaults.js'
import type {Job, JobResult, Limits} from '../engines/protocol.js'
import {badDataError, usageError} from '../util/errors.js'
import {callError, type Script} from './scripts.js'
import type {BatchOptions, CallOptions} from './types.js'

/** What batch needs of the cache (cache.ts). */
export interface Caller {
  readonly concurrency: number
  script(ref: string, opts?: CallOptions): Promise<Script>
  limits(opts: CallOptions | undefined, script: Script): Limits
  /** Admits one call (throws when closed or full); the function releases its place. */
  admit(): () => void
  exec(script: Script, job: Extract<Job, {op: 'run'}>): Promise<JobResult>
  /** Throws once the cache is closing. */
  fence(): void
}

type Settled = {result: JobResult} | {error: unknown}

/**
 * The API's `batch`: rows in chunks of `chunkSize`, each chunk one rows-mode call (the script
 * gets an array and returns an array, as in `burn batch`), at most `window` chunks running or
 * finished and not yet consumed, results yielded row by row in input order. Rows are pulled
 * from the source only to fill the window, so a slow consumer slows the reading down, and a
 * consumer that stops early (break) stops the source too. A failed chunk ends the iteration
 * with the error `burn batch --on-error fail` reports for it (its chunk and rows named).
 */
export async function* batchRows<R>(
  c: Caller,
  ref: string,
  rows: Iterable<unknown> | AsyncIterable<unknown>,
  opts: BatchOptions = {},
): AsyncIterableIterator<R> {
  c.fence()
  const chunkSize = whole(opts.chunkSize, 'chunkSize') ?? DEFAULT_CHUNK_ROWS
  const window = whole(opts.window, 'window') ?? c.concurrency * 2
  const script = await c.script(ref, opts)
  const limits = c.limits(opts, script)
  const {hash, engine, tag, sourcePath, compiledPath} = script
  const source = iterate(rows)
  const running: Array<{place: ChunkPlace; done: Promise<Settled>}> = []
  let firstRow = 0
  let index = 0
  let ended = false
  try {
    for (;;) {
      while (!ended && running.length < window) {
        const chunk: unknown[] = []
        for (let r = await source.next(); ; r = await source.next()) {
          if (r.done) {
            ended = true
            break
          }
          chunk.push(r.value)
          if (chunk.length >= chunkSize) break
        }
        if (chunk.length === 0) break
        const place = {index: index++, firstRow, rows: chunk.length}
        firstRow += chunk.length
        const input = rowsText(chunk, place)
        const job = {op: 'run', engine, tag, hash, sourcePath, compiledPath, input, limits, rows: true, rowCount: chunk.length} as const
        const release = c.admit()
        const done = c
          .exec(script, job)
          .then(
            (result) => ({result}),
            (error: unknown) => ({error}),
          )
          .finally(release)
        running.push({place, done})
      }
      const head = running.shift()
      if (!head) return
      const settled = await head.done
      if ('error' in settled) throw settled.error
      const {result} = settled
      if (!result.ok) throw result.error.kind === 'internal' ? callError(result, script) : chunkError(result.error, head.place, hash)
      for (const v of rowsOf(result)) yield v as R
    }
  } finally {
    await source.return?.()
  }
}

function iterate(rows: Iterable<unknown> | AsyncIterable<unknown>): AsyncIterator<unknown> | Iterator<unknown> {
  if (rows && typeof (rows as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
    return (rows as AsyncIterable<unknown>)[Symbol.asyncIterator]()
  if (rows && typeof (rows as Iterable<unknown>)[Symbol.iterator] === 'function') return (rows as Iterable<unknown>)[Symbol.iterator]()
  throw usageError('batch takes rows as an Iterable or an AsyncIterable (an array, a generator, a stream of values)')
}

function rowsText(chunk: unknown[], place: ChunkPlace): string {
  try {
    return JSON.stringify(chunk)
  } catch (error) {
    throw badDataError(`rows ${place.firstRow + 1}-${place.firstRow + place.rows}: invalid JSON input: ${(error as Error).message}`)
  }
}

/**
 * A rows job's output: one JSON text per row, '\n' between them (engines/protocol.ts), or the
 * whole array from an engine without rows mode.
 */
function rowsOf(result: Extract<JobResult, {ok: true}>): unknown[] {
  const text = result.output ?? (result.outputBytes ? Buffer.from(result.outputBytes).toString('utf8') : '')
  if (result.rows === undefined) return JSON.parse(text) as unknown[]
  if (result.rows === 0) return []
  return text.split('\n').map((line) => JSON.parse(line) as unknown)
}

function whole(n: number | undefined, what: string): number | undefined {
  if (n === undefined) return undefined
  if (!Number.isSafeInteger(n) || n < 1) throw usageError(`invalid ${what} ${n}: expected a whole number of at least 1`)
  return n
}
