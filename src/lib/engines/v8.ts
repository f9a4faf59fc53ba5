import {readFile} from 'node:fs/promises'
import {format} from 'node:util'
import vm from 'node:vm'
import {decodeArtifact} from '../artifact.js'
import {loadXxh64, sha256} from '../hash.js'
import {serializeResult, SerializeError} from '../result.js'
import type {CacheOutcome, Job, JobError, JobResult, Limits} from './protocol.js'
import {parseRows, serializeRows} from './rows.js'
import {LimitExceeded, scriptFilename, scriptStack, syntaxPosition} from './script-errors.js'

/*
 * The v8 engine, inside a runner process (never in burn's own process: a memory bomb may abort
 * the runner, and the supervisor turns that into exit 6). node:vm is NOT a security boundary:
 * this engine is for trusted code only (README, "Trust model").
 * The code cache is made after the module body ran (and, on a run miss, after the first call),
 * so it also holds the functions V8 compiled lazily: 3.9x faster than a cache made right after
 * compile for typescript.js (research/engines.md).
 */
type Console = Record<'log' | 'info' | 'warn' | 'error' | 'debug' | 'trace', (...a: unknown[]) => void>

/** Console budget of the current call; a loaded script reused for the next chunk gets a fresh one. */
interface LogState {exceeded?: LimitExceeded; written: number; limits: Limits}

function makeConsole(state: LogState): Console {
  const write = (...args: unknown[]) => {
    // Once over the limit nothing more is written, and the call fails even if the script
    // catches the error: the check after the run sees state.exceeded.
    if (state.exceeded) throw state.exceeded
    const text = format(...args) + '\n'
    state.written += Buffer.byteLength(text)
    if (state.written > state.limits.maxLogBytes) {
      state.exceeded = new LimitExceeded('max-log', `console output exceeded --max-log ${state.limits.maxLogBytes} bytes`)
      throw state.exceeded
    }
    process.stderr.write(text)
  }
  return {log: write, info: write, warn: write, error: write, debug: write, trace: write}
}

function makeContext(limits: Limits) {
  const module = {exports: {} as unknown}
  const log: LogState = {written: 0, limits}
  // Timers and a few web APIs are given; `require` and `process` are not (DESIGN.md contract).
  const sandbox = {
    module,
    exports: module.exports,
    console: makeConsole(log),
    setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate, queueMicrotask,
    TextEncoder, TextDecoder, URL, URLSearchParams, structuredClone, atob, btoa,
  }
  return {module, log, context: vm.createContext(sandbox)}
}

async function callExport(exported: unknown, input: unknown): Promise<unknown> {
  const value = typeof exported === 'function' ? (exported as (i: unknown) => unknown)(input) : exported
  return await value
}

function scriptError(error: unknown, filename: string): JobError {
  if (error instanceof LimitExceeded) return {kind: 'limit', limit: error.limit, message: error.message}
  if (error instanceof SerializeError) return {kind: 'badData', message: error.message}
  return {kind: 'script', message: errorMessage(error), stack: scriptStack(error, filename)}
}

function errorMessage(error: unknown): string {
  if (error instanceof Error || (error && typeof error === 'object' && 'message' in error)) {
    const e = error as {name?: unknown; message?: unknown}
    return `${String(e.name ?? 'Error')}: ${String(e.message)}`
  }
  try {
    return `thrown value: ${JSON.stringify(error) ?? String(error)}`
  } catch {
    return `thrown value: ${String(error)}`
  }
}

function compileScript(source: string, filename: string, cachedData?: Buffer): vm.Script | JobError {
  try {
    return new vm.Script(source, {filename, cachedData})
  } catch (error) {
    const pos = syntaxPosition(error, filename)
    return {kind: 'compile', message: errorMessage(error), ...pos}
  }
}

export async function compileV8(job: Extract<Job, {op: 'compile'}>): Promise<JobResult> {
  const t0 = performance.now()
  const filename = scriptFilename(job.hash)
  const script = compileScript(Buffer.from(job.source).toString('utf8'), filename)
  if (!(script instanceof vm.Script)) return {ok: false, error: script}
  const {context, log} = makeContext(job.limits)
  try {
    script.runInContext(context)
    if (log.exceeded) throw log.exceeded
  } catch (error) {
    const e = scriptError(error, filename)
    if (e.kind === 'script') e.message = `module initialisation threw: ${e.message}`
    return {ok: false, error: e}
  }
  const cachedData = script.createCachedData()
  return {ok: true, cachedData, cache: 'miss', compileMs: performance.now() - t0, runMs: 0}
}

/**
 * Scripts loaded by rows jobs (batch chunks), by engine tag and hash: the first chunk a runner
 * gets pays the read, verify, compile and module body; later chunks of the same script only
 * call it. Module-level state therefore lives as long as the runner (one per --concurrency slot).
 */
interface Loaded {script: vm.Script; module: {exports: unknown}; log: LogState}
const loaded = new Map<string, Loaded>()

export async function runV8(job: Extract<Job, {op: 'run'}>): Promise<JobResult> {
  const filename = scriptFilename(job.hash)
  const warm = job.rows ? loaded.get(`${job.tag}/${job.hash}`) : undefined
  if (warm) return callRows(job, warm, filename)
  const [sourceBuf, artifactBuf] = await Promise.all([
    readFile(job.sourcePath),
    readFile(job.compiledPath).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e))),
  ])
  const xxh = await loadXxh64()
  let cache: CacheOutcome = 'miss'
  let cacheReason: string | undefined
  let payload: Buffer | undefined
  if (artifactBuf) {
    const decoded = decodeArtifact(artifactBuf, {tag: job.tag, sourceHash: job.hash}, xxh)
    if (decoded.ok) {
      // The header's xxh64 of the source proves cheaply that the source on disk is the one this
      // code cache was made from; a mismatch means the source object itself is damaged.
      if (decoded.meta.sourceLength !== sourceBuf.length || decoded.meta.sourceXxh !== xxh(sourceBuf)) {
        return {ok: false, error: {kind: 'sourceDamaged', message: `the stored source of ${job.hash} does not match its hash`}}
      }
      payload = decoded.payload
    } else {
      cache = 'corrupt'
      cacheReason = decoded.reason
    }
  }
  if (!payload && sha256(sourceBuf) !== job.hash) {
    return {ok: false, error: {kind: 'sourceDamaged', message: `the stored source of ${job.hash} does not match its hash`}, cache, cacheReason}
  }
  const t0 = performance.now()
  const script = compileScript(sourceBuf.toString('utf8'), filename, payload)
  if (!(script instanceof vm.Script)) return {ok: false, error: script, cache, cacheReason}
  if (payload) {
    if (script.cachedDataRejected) {
      cache = 'rejected'
      cacheReason = 'V8 rejected the code cache'
    } else {
      cache = 'hit'
    }
  }
  const compileMs = performance.now() - t0
  let input: unknown
  if (job.rows) {
    input = parseRows(job)
    if (!Array.isArray(input)) return {ok: false, error: input as JobError, cache, cacheReason}
  } else {
    try {
      input = JSON.parse(job.input)
    } catch (error) {
      return {ok: false, error: {kind: 'badData', message: `invalid JSON input: ${(error as Error).message}`}, cache, cacheReason}
    }
  }
  const {module, context, log} = makeContext(job.limits)
  const t1 = performance.now()
  let output: string
  let rows: number | undefined
  try {
    script.runInContext(context)
    if (job.rows) loaded.set(`${job.tag}/${job.hash}`, {script, module, log})
    const result = await callExport(module.exports, input)
    if (log.exceeded) throw log.exceeded
    ;({output, rows} = job.rows ? serializeRows(result, job.rowSeparator) : {output: serializeResult(result), rows: undefined})
    checkOutputSize(output, job.limits)
  } catch (error) {
    if (log.exceeded) error = log.exceeded
    return {ok: false, error: scriptError(error, filename), cache, cacheReason, compileMs}
  }
  const runMs = performance.now() - t1
  // Republish on any miss: the cache made now also covers what the first call compiled.
  const cachedData = cache === 'hit' ? undefined : script.createCachedData()
  return {ok: true, output, rows, cache, cacheReason, cachedData, compileMs, runMs}
}

function checkOutputSize(output: string, limits: Limits): void {
  // the UTF-8 size is at most 3 bytes per UTF-16 unit: count only when it may matter
  if (output.length * 3 > limits.maxOutputBytes && Buffer.byteLength(output) > limits.maxOutputBytes) {
    throw new LimitExceeded('max-output', `result is ${Buffer.byteLength(output)} bytes, over --max-output ${limits.maxOutputBytes} bytes`)
  }
}

/** A later chunk for a script this runner already loaded: no store read, no compile, no module body. */
async function callRows(job: Extract<Job, {op: 'run'}>, warm: Loaded, filename: string): Promise<JobResult> {
  const input = parseRows(job)
  if (!Array.isArray(input)) return {ok: false, error: input, cache: 'none'}
  const {log} = warm
  log.limits = job.limits
  log.written = 0
  log.exceeded = undefined
  const t1 = performance.now()
  try {
    const result = await callExport(warm.module.exports, input)
    if (log.exceeded) throw log.exceeded
    const {output, rows} = serializeRows(result, job.rowSeparator)
    checkOutputSize(output, job.limits)
    // 'none': this call did not look in the store; the runner's first chunk counted the hit or miss
    return {ok: true, output, rows, cache: 'none', cacheReason: 'loaded earlier by this runner', compileMs: 0, runMs: performance.now() - t1}
  } catch (error) {
    if (log.exceeded) error = log.exceeded
    return {ok: false, error: scriptError(error, filename), cache: 'none'}
  }
}
