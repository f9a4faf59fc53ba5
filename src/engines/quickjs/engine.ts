import type {QuickJSHandle} from 'quickjs-emscripten'
import {errorTextLimit} from '../../util/cut-text.js'
import {notJsonError} from '../../util/result.js'
import {ConsoleBudget} from '../console-budget.js'
import type {Job, JobError, JobResult, ScriptFiles} from '../protocol.js'
import {fileStamps, HeldConsole, sameLimits, type Prewarm, type WarmInstance} from '../warm.js'
import {
  dump,
  failure,
  isHostStackOverflow,
  newGuestString,
  newSandbox,
  prepareSandbox,
  readGuestString,
  sandboxFailed,
  stringLength,
  takeSandbox,
  warmQuickjs,
  type Sandbox,
} from './sandbox.js'
import {maxOutputExceeded, scriptFilename} from '../script-errors.js'
import {loadSource, parseJobInput, type LoadedSource} from '../source.js'

/*
 * The quickjs engine: untrusted code in QuickJS compiled to WebAssembly, one fresh sandbox per
 * call (quickjs/sandbox.ts), the same JobResult contract as v8.ts. Timeouts, and builtins that
 * never tick, are the parent's watchdog: it kills this process.
 */
export {prepareSandbox as prepareQuickjs, warmQuickjs}

/** Line and column of a QuickJS SyntaxError: its stack is `    at <filename>:<line>:<column>`. */
function syntaxPosition(error: unknown, filename: string): {line?: number; column?: number} {
  const stack = String((error as {stack?: unknown})?.stack ?? '')
  const m = new RegExp(`${filename.replace(/[.]/g, '\\.')}:(\\d+):(\\d+)`).exec(stack)
  return m ? {line: Number(m[1]), column: Number(m[2])} : {}
}

/**
 * QuickJS has no bytecode cache worth storing (docs/architecture.md, "Measured facts"), so compiling is a syntax
 * check; the empty payload register publishes marks the source as validated for this engine.
 */
export async function compileQuickjs(job: Extract<Job, {op: 'compile'}>): Promise<JobResult> {
  const t0 = performance.now()
  const filename = scriptFilename(job.hash)
  const box = await newSandbox(job.limits).catch(sandboxFailed)
  if ('kind' in box) return {ok: false, error: box}
  // Anything but a limit is the source's fault: a SyntaxError, or nesting too deep to parse.
  const asCompile = (e: JobError, error?: unknown): JobError =>
    e.kind === 'script' ? {kind: 'compile', message: e.message, ...syntaxPosition(error, filename)} : e
  try {
    const r = box.ctx.evalCode(Buffer.from(job.source).toString('utf8'), filename, {type: 'global', compileOnly: true})
    if (r.error) {
      const error = dump(box, r.error)
      return {ok: false, error: asCompile(failure(box, filename, {guest: error}), error)}
    }
  } catch (error) {
    return {ok: false, error: asCompile(failure(box, filename, {host: error}))}
  }
  return {ok: true, cachedData: new Uint8Array(0), cache: 'miss', compileMs: performance.now() - t0, runMs: 0}
}

/** A module body evaluated ahead of its call in the sandbox made for it (engines/warm.ts). */
interface Ahead {
  stamps: string
  loaded: Extract<LoadedSource, {ok: true}>
  box: Sandbox
  held: HeldConsole
  warm: WarmInstance
}
let ahead: {key: string; ready: Promise<Ahead | undefined>} | undefined
let claimed: {key: string; ahead?: Ahead} | undefined

/**
 * Loads the script a pooled runner expects and evaluates its module body in the sandbox made
 * for that call's limits; the body's console lines are held. Kept only if the body finished
 * cleanly: no throw, no --fuel or --max-log breach, no promise job left to run.
 */
export function preloadQuickjs(files: ScriptFiles, prewarm: Prewarm): void {
  const ready = (async (): Promise<Ahead | undefined> => {
    const stamps = await fileStamps(files)
    const loaded = await loadSource(files)
    if (!loaded.ok) return undefined
    await prepareSandbox(prewarm.limits)
    const box = await takeSandbox(prewarm.limits)
    const held = new HeldConsole(prewarm.limits.maxLogBytes)
    box.console = held
    const baselineBytes = process.memoryUsage.rss()
    prewarm.onBodyStart(baselineBytes)
    const t0 = performance.now()
    let dirty: string | undefined
    try {
      const body = box.ctx.evalCode(loaded.source.toString('utf8'), scriptFilename(files.hash), {type: 'global'})
      if (body.error) dirty = 'the module body threw'
      body.dispose()
      if (box.fuelOut || held.exceeded) dirty ??= 'the module body went past a limit'
      if (box.rt.hasPendingJob()) dirty ??= 'the module body left promise jobs'
    } catch {
      // --fuel out (it unwinds the wasm stack), or the host's stack overflowed
      dirty = 'the module body did not finish'
    }
    const warm = {limits: prewarm.limits, bodyMs: performance.now() - t0, baselineBytes, dirty}
    prewarm.onBodyEnd(dirty)
    return {stamps, loaded, box, held, warm}
  })().catch(() => undefined)
  ahead = {key: `${files.tag}/${files.hash}`, ready}
  void ready.then((a) => !a && prewarm.onBodyEnd('the script did not load'))
}

/** The module body evaluated ahead for this call, if it may serve it: same script, same files, same limits, clean. */
export async function claimQuickjs(job: Extract<Job, {op: 'run'}>): Promise<WarmInstance | undefined> {
  const p = ahead
  ahead = undefined
  const key = `${job.tag}/${job.hash}`
  if (!p || p.key !== key) return undefined
  const [a, stamps] = await Promise.all([p.ready, fileStamps(job)])
  // (a call with a fixed clock, --memo, runs cold: the body ran ahead on the real one)
  const usable =
    a && job.clock === undefined && a.stamps === stamps && !a.warm.dirty && sameLimits(a.warm.limits, job.limits) ? a : undefined
  claimed = {key, ahead: usable}
  return usable?.warm
}

export async function runQuickjs(job: Extract<Job, {op: 'run'}>): Promise<JobResult> {
  const filename = scriptFilename(job.hash)
  const mine = claimed?.key === `${job.tag}/${job.hash}` ? claimed.ahead : undefined
  claimed = undefined
  const loaded = mine?.loaded ?? (await loadSource(job))
  if (!loaded.ok) return loaded.result
  // A valid compiled form is the "validated" marker: its payload is empty by design.
  const cache = loaded.payload ? 'hit' : loaded.cache
  const {cacheReason} = loaded
  const t0 = performance.now()
  const box = mine?.box ?? (await takeSandbox(job.limits).catch(sandboxFailed))
  if ('kind' in box) return {ok: false, error: box, cache, cacheReason, compileMs: 0}
  let out: {ok: true; output: string} | {ok: false; error: JobError}
  try {
    out = execute(box, job, loaded.source.toString('utf8'), filename, mine?.held)
  } catch (error) {
    out = {ok: false, error: failure(box, filename, {host: error})}
  }
  if (!out.ok) return {ok: false, error: out.error, cache, cacheReason, compileMs: 0}
  // On a miss the script has now compiled and run: publish the marker so the next run is a hit.
  const cachedData = cache === 'hit' ? undefined : new Uint8Array(0)
  const warm = mine && true
  return {ok: true, output: out.output, cache, cacheReason, cachedData, compileMs: 0, runMs: performance.now() - t0, warm}
}

const NEVER_SETTLES: JobError = {
  kind: 'limit',
  limit: 'timeout',
  message: `timeout: the script's promise can never settle (nothing is left to run; quickjs has no timers)`,
}

/**
 * The module body, the call, its promise jobs and the serialization, all inside the sandbox;
 * only strings come out. The guest state is read defensively: the script may have tampered
 * with anything in its realm. `held`: the body was evaluated ahead, these are its console lines.
 */
function execute(
  box: Sandbox,
  job: Extract<Job, {op: 'run'}>,
  source: string,
  filename: string,
  held?: HeldConsole,
): {ok: true; output: string} | {ok: false; error: JobError} {
  const {ctx, rt, limits} = box
  const api = (name: string, ...args: QuickJSHandle[]) => ctx.getProp(box.api, name).consume((f) => ctx.callFunction(f, box.api, ...args))
  // What was thrown, cut in the guest to what --max-log lets out (or whole if that fails: out of memory).
  const bounded = (thrown: QuickJSHandle) => {
    const r = api('bound', thrown, ctx.newNumber(errorTextLimit(limits.maxLogBytes)))
    return r.error ? thrown : r.value
  }
  const fail = (guest?: QuickJSHandle, host?: unknown) => ({
    ok: false as const,
    error: failure(box, filename, {guest: guest && dump(box, bounded(guest)), host}),
  })
  // The input is parsed only here, by the guest (the host parsing it too cost ~140 ms on 7 MB).
  // JSON text holds no NUL, and the guest string, a C string, would end at one.
  if (job.input.includes('\0'))
    return {ok: false, error: invalidInput(job.input, {kind: 'badData', message: 'invalid JSON input: a NUL character'})}
  const clock = job.clock === undefined ? ctx.undefined : ctx.newNumber(job.clock)
  const parsed = newGuestString(box, job.input).consume((text) => api('input', text, clock))
  if (parsed.error) {
    const r = fail(parsed.error)
    // A limit (memory, fuel) or a nesting too deep for the guest stands; a syntax error is
    // worded by the host's parser, the same words as the v8 engine's.
    return r.error.kind === 'script' ? {ok: false, error: invalidInput(job.input, r.error)} : r
  }
  if (held) {
    // After the input, as a direct run's body: its lines first, under this call's --max-log.
    box.console = new ConsoleBudget(limits.maxLogBytes)
    held.replay(box.console)
  } else {
    const body = ctx.evalCode(source, filename, {type: 'global'})
    if (body.error) return fail(body.error)
  }
  const started = api('start')
  if (started.error) return fail(started.error)
  const state = started.value
  const prop = (name: string) => ctx.getProp(state, name)
  const isTrue = (name: string) => prop(name).consume((h) => ctx.typeof(h) === 'boolean' && ctx.dump(h) === true)
  while (!isTrue('done')) {
    const jobs = rt.executePendingJobs(-1)
    if (jobs.error) return fail(jobs.error)
    // No timers in this sandbox: with no job left, nothing can ever settle the promise.
    if (!isTrue('done') && !rt.hasPendingJob()) return {ok: false, error: NEVER_SETTLES}
  }
  // Serialized only once the script settled well (its toJSONs and getters run here, under the
  // same limits); the checks below then hold for both steps.
  if (!box.console.exceeded && !isTrue('threw')) {
    try {
      const serialized = api('serialize', state)
      if (serialized.error) return fail(serialized.error)
      serialized.value.dispose()
    } catch (error) {
      // Nesting the guest's own stack check did not catch: the wasm code overflowed the host's.
      if (!isHostStackOverflow(error)) throw error
      return {ok: false, error: {kind: 'badData', message: notJsonError({what: 'nesting too deep to serialize', path: '$'}).message}}
    }
  }
  if (box.console.exceeded) return fail()
  if (isTrue('threw')) return fail(prop('error'))
  const what = prop('what')
  if (ctx.typeof(what) === 'string') {
    return {
      ok: false,
      error: {kind: 'badData', message: notJsonError({what: ctx.getString(what), path: ctx.getString(prop('path'))}).message},
    }
  }
  const output = prop('output')
  if (ctx.typeof(output) !== 'string') return {ok: false, error: {kind: 'internal', message: 'the quickjs sandbox returned no result'}}
  // The length is a lower bound of the bytes: a result far too big is never copied out.
  const length = stringLength(ctx, output)
  if (length > limits.maxOutputBytes) return fail(undefined, maxOutputExceeded(length, limits.maxOutputBytes, true))
  return readGuestString(ctx, output, (utf8) => {
    if (utf8.length > limits.maxOutputBytes) return fail(undefined, maxOutputExceeded(utf8.length, limits.maxOutputBytes))
    return {ok: true, output: utf8.toString()}
  })
}

/** The host parser's error for input the guest could not parse; `otherwise` if the host parses it. */
function invalidInput(text: string, otherwise: JobError): JobError {
  const r = parseJobInput(text)
  return r.ok ? otherwise : r.error
}
