import {format} from 'node:util'
import vm from 'node:vm'
import {serializeResult, SerializeError} from '../util/result.js'
import {ConsoleBudget} from './console-budget.js'
import type {Job, JobError, JobResult, Limits, ScriptFiles} from './protocol.js'
import {errorMessage, maxOutputExceeded, scriptFilename, syntaxPosition, thrownError} from './script-errors.js'
import {parseRows, serializeRows} from './rows.js'
import {loadSource, parseJobInput, type LoadedSource} from './source.js'
import {fileStamps, HeldConsole, sameLimits, WarmGuard, type Prewarm, type WarmInstance} from './warm.js'

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

/** `guard`: the context of a module body run ahead of its call (warm.ts): its console is held, its timers deferred. */
function makeContext(limits: Limits, guard?: WarmGuard) {
  const module = {exports: {} as unknown}
  const log: Log = {budget: guard ? new HeldConsole(limits.maxLogBytes) : new ConsoleBudget(limits.maxLogBytes)}
  const host = <F extends (...a: never[]) => unknown>(name: string, fn: F): F => (guard ? guard.defer(name, fn) : fn)
  // Timers and a few web APIs are given; `require` and `process` are not (README, "Script contract").
  const sandbox = {
    module,
    exports: module.exports,
    console: makeConsole(log),
    setTimeout: host('setTimeout', setTimeout),
    clearTimeout: host('clearTimeout', clearTimeout),
    setInterval: host('setInterval', setInterval),
    clearInterval: host('clearInterval', clearInterval),
    setImmediate: host('setImmediate', setImmediate),
    clearImmediate: host('clearImmediate', clearImmediate),
    queueMicrotask: host('queueMicrotask', queueMicrotask),
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
  /** The module body, run ahead (warm.ts). */
  instance?: Loaded & {warm: WarmInstance; guard: WarmGuard}
}
let preloaded: {key: string; ready: Promise<Preloaded | undefined>} | undefined
/** What claimV8 took for the call about to run. */
let claimed: {key: string; pre?: Preloaded} | undefined

export function preloadV8(files: ScriptFiles, prewarm?: Prewarm): void {
  const ready = (async () => {
    const stamps = await fileStamps(files)
    const loaded = await loadSource(files)
    if (!loaded.ok) return undefined
    const t0 = performance.now()
    const script = compileScript(loaded.source.toString('utf8'), scriptFilename(files.hash), loaded.payload)
    const pre: Preloaded = {stamps, loaded, script, compileMs: performance.now() - t0}
    if (prewarm && script instanceof vm.Script) pre.instance = instantiate(script, prewarm)
    return pre
  })().catch(() => undefined)
  preloaded = {key: `${files.tag}/${files.hash}`, ready}
  // (exactly one end is told, also when nothing was run)
  if (prewarm) void ready.then((pre) => !pre?.instance && prewarm.onBodyEnd('the script did not load'))
}

/** Runs the module body ahead of its call, under the expected call's limits (warm.ts). */
function instantiate(script: vm.Script, prewarm: Prewarm): Preloaded['instance'] {
  const {limits} = prewarm
  const guard = new WarmGuard()
  const {module, context, log} = makeContext(limits, guard)
  const baselineBytes = process.memoryUsage.rss()
  prewarm.onBodyStart(baselineBytes)
  const t0 = performance.now()
  guard.run(() => script.runInContext(context, {timeout: Math.min(limits.timeoutMs, 2 ** 31 - 1)}), log.budget as HeldConsole)
  const bodyMs = performance.now() - t0
  prewarm.onBodyEnd(guard.dirty)
  return {module, log, guard, warm: {limits, bodyMs, baselineBytes, dirty: guard.dirty}}
}

async function takePreloaded(job: Extract<Job, {op: 'run'}>): Promise<Preloaded | undefined> {
  const p = preloaded
  preloaded = undefined
  if (!p || p.key !== `${job.tag}/${job.hash}`) return undefined
  const [pre, stamps] = await Promise.all([p.ready, fileStamps(job)])
  return pre && pre.stamps === stamps ? pre : undefined
}

/**
 * Takes what was loaded ahead for this call, before its deadline starts: the module instance,
 * if its body ran cleanly under these same limits, with the body's time and memory baseline
 * that the call's watchdog counts (warm.ts).
 */
export async function claimV8(job: Extract<Job, {op: 'run'}>): Promise<WarmInstance | undefined> {
  const pre = job.rows ? undefined : await takePreloaded(job)
  claimed = {key: `${job.tag}/${job.hash}`, pre}
  const warm = pre?.instance?.warm
  return warm && !warm.dirty && sameLimits(warm.limits, job.limits) ? warm : undefined
}

export async function runV8(job: Extract<Job, {op: 'run'}>): Promise<JobResult> {
  const filename = scriptFilename(job.hash)
  const key = `${job.tag}/${job.hash}`
  const keep = job.rows || job.keep !== undefined
  const warm = keep ? takeWarm(key) : undefined
  if (warm) return callWarm(job, warm, filename)
  const mine = claimed?.key === key ? claimed : undefined
  claimed = undefined
  const pre = keep ? undefined : mine ? mine.pre : await takePreloaded(job)
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
  const instance = pre?.instance && !pre.instance.warm.dirty && sameLimits(pre.instance.warm.limits, job.limits) ? pre.instance : undefined
  const fresh = instance ? undefined : makeContext(job.limits)
  const {module, log} = instance ?? fresh!
  const t1 = performance.now()
  let output: string
  let rows: number | undefined
  try {
    if (instance) {
      // The body ran ahead: its console lines come first, under this call's --max-log.
      const held = instance.log.budget as HeldConsole
      instance.guard.warming = false
      log.budget = new ConsoleBudget(job.limits.maxLogBytes)
      held.replay(log.budget)
    } else script.runInContext(fresh!.context)
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
  return {
    ok: true,
    output,
    rows,
    cache,
    cacheReason,
    cachedData,
    compileMs,
    runMs,
    preloaded: pre ? true : undefined,
    warm: instance && true,
  }
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
