import {stat} from 'node:fs/promises'
import {format} from 'node:util'
import vm from 'node:vm'
import {serializeResult, SerializeError} from '../util/result.js'
import {ConsoleBudget} from './console-budget.js'
import type {Job, JobError, JobResult, Limits, ScriptFiles} from './protocol.js'
import {errorMessage, maxOutputExceeded, scriptFilename, syntaxPosition, thrownError} from './script-errors.js'
import {parseRows, serializeRows} from './rows.js'
import {loadSource, parseJobInput, type LoadedSource} from './source.js'

/*
 * The v8 engine, inside a runner process (never in burn's own process: a memory bomb may abort
 * the runner, and the supervisor turns that into exit 6). node:vm is NOT a security boundary:
 * this engine is for trusted code only (README, "Trust model").
 * The code cache is made after the module body ran (and, on a run miss, after the first call),
 * so it also holds the functions V8 compiled lazily: 3.9x faster than a cache made right after
 * compile for typescript.js (docs/architecture.md, "Measured facts").
 */
type Console = Record<'log' | 'info' | 'warn' | 'error' | 'debug' | 'trace', (...a: unknown[]) => void>

/** The console writes against the current call's budget: a script reused for the next chunk gets a fresh one. */
interface Log {
  budget: ConsoleBudget
}

function makeConsole(log: Log): Console {
  const write = (...args: unknown[]) => log.budget.write(format(...args) + '\n')
  return {log: write, info: write, warn: write, error: write, debug: write, trace: write}
}

function makeContext(limits: Limits) {
  const module = {exports: {} as unknown}
  const log: Log = {budget: new ConsoleBudget(limits.maxLogBytes)}
  // Timers and a few web APIs are given; `require` and `process` are not (README, "Script contract").
  const sandbox = {
    module,
    exports: module.exports,
    console: makeConsole(log),
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    setImmediate,
    clearImmediate,
    queueMicrotask,
    TextEncoder,
    TextDecoder,
    URL,
    URLSearchParams,
    structuredClone,
    atob,
    btoa,
  }
  return {module, log, context: vm.createContext(sandbox)}
}

async function callExport(exported: unknown, input: unknown): Promise<unknown> {
  const value = typeof exported === 'function' ? (exported as (i: unknown) => unknown)(input) : exported
  return await value
}

function scriptError(error: unknown, filename: string, limits: Limits): JobError {
  if (error instanceof SerializeError) return {kind: 'badData', message: error.message}
  return thrownError(error, filename, limits.maxLogBytes)
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
    if (log.budget.exceeded) throw log.budget.exceeded
  } catch (error) {
    const e = scriptError(error, filename, job.limits)
    if (e.kind === 'script') e.message = `module initialisation threw: ${e.message}`
    return {ok: false, error: e}
  }
  const cachedData = script.createCachedData()
  return {ok: true, cachedData, cache: 'miss', compileMs: performance.now() - t0, runMs: 0}
}

/**
 * Scripts loaded by rows jobs (batch chunks), by engine tag and hash: the first chunk a runner
 * gets pays the read, verify, compile and module body; later chunks of the same script only
 * call it. Module-level state therefore lives as long as the runner.
 */
interface Loaded {
  module: {exports: unknown}
  log: Log
}
const warmScripts = new Map<string, Loaded>()

/** A kept script, now the most recently used (a Map iterates in insertion order: the first key is the LRU one). */
function takeWarm(key: string): Loaded | undefined {
  const warm = warmScripts.get(key)
  if (warm) {
    warmScripts.delete(key)
    warmScripts.set(key, warm)
  }
  return warm
}

function keepWarm(key: string, loaded: Loaded, max = Infinity): void {
  warmScripts.set(key, loaded)
  for (const k of warmScripts.keys()) {
    if (warmScripts.size <= max) break
    warmScripts.delete(k)
  }
}

/**
 * A script loaded ahead of its call (preloadV8): the files read, checked and compiled with
 * their code cache, plus stamps of both files taken before reading them. The call uses it only
 * if it asks for the same script and both stamps are unchanged, so what it runs is exactly
 * what a load at call time would have read; the store's bookkeeping (hit, miss, set aside,
 * republish) then happens at the call as usual.
 */
interface Preloaded {
  stamps: string
  loaded: LoadedSource
  script?: vm.Script | JobError
  compileMs: number
}
let preloaded: {key: string; ready: Promise<Preloaded | undefined>} | undefined

async function fileStamps(files: ScriptFiles): Promise<string> {
  const one = (p: string) =>
    stat(p, {bigint: true}).then(
      (s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`,
      (e: NodeJS.ErrnoException) => e.code ?? 'error',
    )
  return `${await one(files.sourcePath)}|${await one(files.compiledPath)}`
}

export function preloadV8(files: ScriptFiles): void {
  preloaded = {
    key: `${files.tag}/${files.hash}`,
    ready: (async () => {
      const stamps = await fileStamps(files)
      const loaded = await loadSource(files)
      if (!loaded.ok) return undefined
      const t0 = performance.now()
      const script = compileScript(loaded.source.toString('utf8'), scriptFilename(files.hash), loaded.payload)
      return {stamps, loaded, script, compileMs: performance.now() - t0}
    })().catch(() => undefined),
  }
}

async function takePreloaded(job: Extract<Job, {op: 'run'}>): Promise<Preloaded | undefined> {
  const p = preloaded
  preloaded = undefined
  if (!p || p.key !== `${job.tag}/${job.hash}`) return undefined
  const [pre, stamps] = await Promise.all([p.ready, fileStamps(job)])
  return pre && pre.stamps === stamps ? pre : undefined
}

export async function runV8(job: Extract<Job, {op: 'run'}>): Promise<JobResult> {
  const filename = scriptFilename(job.hash)
  const key = `${job.tag}/${job.hash}`
  const keep = job.rows || job.keep !== undefined
  const warm = keep ? takeWarm(key) : undefined
  if (warm) return callWarm(job, warm, filename)
  const pre = keep ? undefined : await takePreloaded(job)
  const loaded = pre?.loaded ?? (await loadSource(job))
  if (!loaded.ok) return loaded.result
  const {source: sourceBuf, payload} = loaded
  let {cache, cacheReason} = loaded
  const t0 = performance.now()
  const script = pre?.script ?? compileScript(sourceBuf.toString('utf8'), filename, payload)
  if (!(script instanceof vm.Script)) return {ok: false, error: script, cache, cacheReason}
  if (payload) {
    if (script.cachedDataRejected) {
      cache = 'rejected'
      cacheReason = 'V8 rejected the code cache'
    } else {
      cache = 'hit'
    }
  }
  const compileMs = pre?.compileMs ?? performance.now() - t0
  const input = job.rows ? rowsInput(job) : parseJobInput(job.input)
  if (!input.ok) return {ok: false, error: input.error, cache, cacheReason}
  const {module, context, log} = makeContext(job.limits)
  const t1 = performance.now()
  let output: string
  let rows: number | undefined
  try {
    script.runInContext(context)
    if (keep) keepWarm(key, {module, log}, job.keep)
    const result = await callExport(module.exports, input.value)
    if (log.budget.exceeded) throw log.budget.exceeded
    ;({output, rows} = job.rows ? serializeRows(result, job.rowSeparator) : {output: serializeResult(result), rows: undefined})
    checkOutputSize(output, job.limits)
  } catch (error) {
    // A console over budget makes the script fail however it went on: the limit is the error.
    return {ok: false, error: scriptError(log.budget.exceeded || error, filename, job.limits), cache, cacheReason, compileMs}
  }
  const runMs = performance.now() - t1
  // Republish on any miss, and once on a hit of register's body-only cache: the cache made now
  // also covers what the first call compiled (typescript.js: about 25 ms less on every later run).
  const cachedData = cache === 'hit' && loaded.warm ? undefined : script.createCachedData()
  return {ok: true, output, rows, cache, cacheReason, cachedData, compileMs, runMs, preloaded: pre ? true : undefined}
}

/** Runs this engine's call path once on a trivial script, so that a later call finds its code compiled. */
export async function warmV8(limits: Limits): Promise<void> {
  const {module, context} = makeContext(limits)
  new vm.Script('module.exports = (x) => x', {filename: 'burn-warm-up'}).runInContext(context)
  const input = parseJobInput('{"a":[1,"b",null]}')
  if (input.ok) serializeResult(await callExport(module.exports, input.value))
}

function rowsInput(job: Extract<Job, {op: 'run'}>): {ok: true; value: unknown[]} | {ok: false; error: JobError} {
  const rows = parseRows(job)
  return Array.isArray(rows) ? {ok: true, value: rows} : {ok: false, error: rows}
}

function checkOutputSize(output: string, limits: Limits): void {
  // the UTF-8 size is at most 3 bytes per UTF-16 unit: count only when it may matter
  if (output.length * 3 > limits.maxOutputBytes) {
    const bytes = Buffer.byteLength(output)
    if (bytes > limits.maxOutputBytes) throw maxOutputExceeded(bytes, limits.maxOutputBytes)
  }
}

/** A later chunk (or kept call) for a script this runner already loaded: no store read, no compile, no module body. */
async function callWarm(job: Extract<Job, {op: 'run'}>, warm: Loaded, filename: string): Promise<JobResult> {
  const input = job.rows ? rowsInput(job) : parseJobInput(job.input)
  if (!input.ok) return {ok: false, error: input.error, cache: 'none'}
  const log = new ConsoleBudget(job.limits.maxLogBytes)
  warm.log.budget = log
  const t1 = performance.now()
  try {
    const result = await callExport(warm.module.exports, input.value)
    if (log.exceeded) throw log.exceeded
    const {output, rows} = job.rows ? serializeRows(result, job.rowSeparator) : {output: serializeResult(result), rows: undefined}
    checkOutputSize(output, job.limits)
    // 'none': this call did not look in the store; the runner's first chunk counted the hit or miss
    return {
      ok: true,
      output,
      rows,
      cache: 'none',
      cacheReason: 'loaded earlier by this runner',
      compileMs: 0,
      runMs: performance.now() - t1,
    }
  } catch (error) {
    return {ok: false, error: scriptError(log.exceeded || error, filename, job.limits), cache: 'none'}
  }
}
