import {format} from 'node:util'
import vm from 'node:vm'
import {serializeResult, SerializeError} from '../result.js'
import {ConsoleBudget} from './console-budget.js'
import type {Job, JobError, JobResult, Limits} from './protocol.js'
import {errorMessage, LimitExceeded, maxOutputExceeded, scriptFilename, scriptStack, syntaxPosition} from './script-errors.js'
import {loadSource, parseJobInput} from './source.js'

/*
 * The v8 engine, inside a runner process (never in burn's own process: a memory bomb may abort
 * the runner, and the supervisor turns that into exit 6). node:vm is NOT a security boundary:
 * this engine is for trusted code only (README, "Trust model").
 * The code cache is made after the module body ran (and, on a run miss, after the first call),
 * so it also holds the functions V8 compiled lazily: 3.9x faster than a cache made right after
 * compile for typescript.js (research/engines.md).
 */
type Console = Record<'log' | 'info' | 'warn' | 'error' | 'debug' | 'trace', (...a: unknown[]) => void>

function makeConsole(budget: ConsoleBudget): Console {
  const write = (...args: unknown[]) => budget.write(format(...args) + '\n')
  return {log: write, info: write, warn: write, error: write, debug: write, trace: write}
}

function makeContext(limits: Limits) {
  const module = {exports: {} as unknown}
  const log = new ConsoleBudget(limits.maxLogBytes)
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
  const loaded = await loadSource(job)
  if (!loaded.ok) return loaded.result
  const {source: sourceBuf, payload} = loaded
  let {cache, cacheReason} = loaded
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
  const input = parseJobInput(job.input)
  if (!input.ok) return {ok: false, error: input.error, cache, cacheReason}
  const {module, context, log} = makeContext(job.limits)
  const t1 = performance.now()
  let output: string
  try {
    script.runInContext(context)
    const result = await callExport(module.exports, input.value)
    if (log.exceeded) throw log.exceeded
    output = serializeResult(result)
    const bytes = Buffer.byteLength(output)
    if (bytes > job.limits.maxOutputBytes) throw maxOutputExceeded(bytes, job.limits.maxOutputBytes)
  } catch (error) {
    if (log.exceeded) error = log.exceeded
    return {ok: false, error: scriptError(error, filename), cache, cacheReason, compileMs}
  }
  const runMs = performance.now() - t1
  // Republish on any miss: the cache made now also covers what the first call compiled.
  const cachedData = cache === 'hit' ? undefined : script.createCachedData()
  return {ok: true, output, cache, cacheReason, cachedData, compileMs, runMs}
}
