import {readFile} from 'node:fs/promises'
import {format} from 'node:util'
import vm from 'node:vm'
import {decodeArtifact} from '../artifact.js'
import {loadXxh64, sha256} from '../hash.js'
import {serializeResult, SerializeError} from '../result.js'
import type {CacheOutcome, Job, JobError, JobResult, Limits} from './protocol.js'
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

interface LogState {exceeded?: LimitExceeded}

function makeConsole(limits: Limits, state: LogState): Console {
  let written = 0
  const write = (...args: unknown[]) => {
    // Once over the limit nothing more is written, and the call fails even if the script
    // catches the error: the check after the run sees state.exceeded.
    if (state.exceeded) throw state.exceeded
    const text = format(...args) + '\n'
    written += Buffer.byteLength(text)
    if (written > limits.maxLogBytes) {
      state.exceeded = new LimitExceeded('max-log', `console output exceeded --max-log ${limits.maxLogBytes} bytes`)
      throw state.exceeded
    }
    process.stderr.write(text)
  }
  return {log: write, info: write, warn: write, error: write, debug: write, trace: write}
}

function makeContext(limits: Limits) {
  const module = {exports: {} as unknown}
  const log: LogState = {}
  // Timers and a few web APIs are given; `require` and `process` are not (DESIGN.md contract).
  const sandbox = {
    module,
    exports: module.exports,
    console: makeConsole(limits, log),
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

export async function runV8(job: Extract<Job, {op: 'run'}>): Promise<JobResult> {
  const filename = scriptFilename(job.hash)
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
  try {
    input = JSON.parse(job.input)
  } catch (error) {
    return {ok: false, error: {kind: 'badData', message: `invalid JSON input: ${(error as Error).message}`}, cache, cacheReason}
  }
  const {module, context, log} = makeContext(job.limits)
  const t1 = performance.now()
  let output: string
  try {
    script.runInContext(context)
    const result = await callExport(module.exports, input)
    if (log.exceeded) throw log.exceeded
    output = serializeResult(result)
    if (Buffer.byteLength(output) > job.limits.maxOutputBytes) {
      throw new LimitExceeded('max-output', `result is ${Buffer.byteLength(output)} bytes, over --max-output ${job.limits.maxOutputBytes} bytes`)
    }
  } catch (error) {
    if (log.exceeded) error = log.exceeded
    return {ok: false, error: scriptError(error, filename), cache, cacheReason, compileMs}
  }
  const runMs = performance.now() - t1
  // Republish on any miss: the cache made now also covers what the first call compiled.
  const cachedData = cache === 'hit' ? undefined : script.createCachedData()
  return {ok: true, output, cache, cacheReason, cachedData, compileMs, runMs}
}
