import {chunkErrorRecord} from './chunk-error.js'
import {cutJson, cutText, errorTextLimit} from '../util/cut-text.js'
import {RECYCLE_GROWTH_BYTES, runBatch} from './run-batch.js'
import type {BatchSummary, InputFormat, OnError, OutputFormat} from './types.js'
import {defaultCacheDir} from '../store/cache-dir.js'
import {parseConcurrency} from '../util/concurrency.js'
import {RunnerPool} from '../runners/pool.js'
import {checkEngine, type EngineName} from '../engines/tag.js'
import {describeError, notFoundError, usageError} from '../util/errors.js'
import {parseLimits, type LimitFlags} from '../cli/limits.js'
import {openStore} from '../store/store.js'
import {remoteOrWarn} from '../store/remote/lookup.js'
import {parseSpecArgv} from '../cli/argv.js'
import {startBatchProgress, summaryLine} from './progress.js'
import {errorJson, renderError} from '../cli/render.js'
import {batchSpec, cacheDirSpec} from '../cli/spec.js'

export interface BatchFlags extends LimitFlags {
  'input-file'?: string
  'input-format'?: string
  output?: string
  'output-format'?: string
  'chunk-size'?: number
  concurrency?: number
  'on-error'?: string
  progress?: boolean
  memo?: boolean
  engine?: string
  json?: boolean
  'cache-dir'?: string
}

/**
 * `burn batch` once its arguments are parsed, by oclif (commands/batch.ts) or by bin/run.js's
 * fast path (batchFastPath): the exit code goes to process.exitCode; an error before the batch
 * starts is thrown, for renderBatchError.
 */
export async function batchCommand(ref: string, flags: BatchFlags): Promise<void> {
  const json = Boolean(flags.json)
  const engine = flags.engine === undefined ? undefined : checkEngine(flags.engine)
  const limits = parseLimits(flags)
  const concurrency = parseConcurrency(flags.concurrency)
  if (flags['input-file'] === undefined && process.stdin.isTTY) {
    throw usageError('no input: pipe rows into stdin or pass --input-file <file>')
  }
  const cacheDir = flags['cache-dir'] ?? defaultCacheDir()
  let store = await openStore(cacheDir, {create: false})
  // (a missing store is an empty one when the shared remote cache could have the script, as for `burn run`)
  if (!store && remoteOrWarn() !== undefined) store = await openStore(cacheDir, {create: true})
  if (!store) throw notFoundError(`no script matches ${JSON.stringify(ref)}; the store is empty: \`burn register <file>\` adds one`, {ref})
  // Runners start once the script's engine is known (its registered one, without --engine),
  // while the input is opened: one now, the others as chunks come (3 chunks never start more than 3).
  // --memo: the others only once the runners started have two jobs each (a re-run that computes a
  // few rows was 0.15 s faster on one runner than on two: starting a runner costs a core for that long).
  const lazy = Boolean(flags.memo)
  const pool = (e: EngineName) => new RunnerPool(concurrency, e, 1, {depth: 2, recycleGrowthBytes: RECYCLE_GROWTH_BYTES, lean: true, lazy})
  const progress = await startBatchProgress({force: Boolean(flags.progress), quiet: json && !flags.progress})
  const {summary, error} = await runBatch(store, {
    ref,
    engine,
    limits,
    pool,
    concurrency,
    input: {file: flags['input-file'], format: (flags['input-format'] ?? 'auto') as 'auto' | InputFormat},
    chunkSize: flags['chunk-size'],
    output: {file: flags.output, format: (flags['output-format'] ?? 'ndjson') as OutputFormat},
    onError: (flags['on-error'] ?? 'fail') as OnError,
    memo: Boolean(flags.memo),
    // Each failed chunk's record, and the final error, are under --max-log (a script's error text).
    onChunkError: (e) => process.stderr.write(cutJson(chunkErrorRecord(e), errorTextLimit(limits.maxLogBytes) - 1) + '\n'),
    onProgress: (p) => progress.update(p),
  })
  progress.stop()
  const d = error ? describeError(error) : undefined
  if (json) {
    process.stderr.write(cutJson({...summaryJson(summary), ...(d ? errorJson(d) : {})}, errorTextLimit(limits.maxLogBytes) - 1) + '\n')
  } else {
    if (flags.progress || process.stderr.isTTY) process.stderr.write(summaryLine(summary) + '\n')
    if (d) process.stderr.write(`Error: ${cutText(d.message, errorTextLimit(limits.maxLogBytes) - 8)}\n`)
  }
  if (d) process.exitCode = d.exit
}

/**
 * An error of `burn batch`: with --json one JSON object on stderr (stdout carries only rows),
 * else as for every command. Returns the exit code.
 */
export function renderBatchError(err: unknown, json: boolean): number {
  if (!json) return renderError(err, false)
  const d = describeError(err)
  process.stderr.write(JSON.stringify(errorJson(d)) + '\n')
  return d.exit
}

const spec = {...batchSpec, ...cacheDirSpec}

/**
 * `burn batch` without oclif (bin/run.js): loading @oclif/core takes about 200 ms before the
 * runners can be forked, all of it on the batch's critical path, and about 13 MB of resident
 * memory in burn's process for the whole batch. Returns false for anything unusual (help, a
 * parse error), which oclif then answers with its own usage message.
 */
export async function batchFastPath(argv: string[]): Promise<boolean> {
  const parsed = parseSpecArgv(argv, spec)
  if (!parsed) return false
  const flags = parsed.flags as BatchFlags
  try {
    await batchCommand(parsed.ref, flags)
  } catch (error) {
    process.exitCode = renderBatchError(error, Boolean(flags.json))
  }
  return true
}

function summaryJson(s: BatchSummary): Record<string, unknown> {
  const {elapsedMs, ...rest} = s
  return {...rest, seconds: Math.round(elapsedMs) / 1000}
}
