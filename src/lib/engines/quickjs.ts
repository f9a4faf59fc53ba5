import {readFile} from 'node:fs/promises'
import {createRequire} from 'node:module'
import type {QuickJSContext, QuickJSHandle, QuickJSRuntime} from 'quickjs-emscripten'
import {notJsonError} from '../result.js'
import {ConsoleBudget} from './console-budget.js'
import type {Job, JobError, JobResult, Limits} from './protocol.js'
import {PRELUDE_FILENAME, PRELUDE_SOURCE} from './quickjs-prelude.js'
import {errorMessage, LimitExceeded, maxOutputExceeded, scriptFilename, scriptStack} from './script-errors.js'
import {loadSource, parseJobInput} from './source.js'
import {memoryExceededMessage} from './watchdog.js'

/*
 * The quickjs engine: untrusted code in QuickJS compiled to WebAssembly (research/engines.md).
 * Every call gets a FRESH wasm instance with its own linear memory, dropped whole afterwards:
 * an out-of-memory or a native stack overflow can leave QuickJS's state broken, and nothing of
 * a broken instance is ever reused. The library and the compiled wasm code are loaded once per
 * process (warmQuickjs), before the script's deadline and memory baseline start.
 *
 * Limits enforced here, each a clean limit error (exit 6) with the process still alive:
 * - memory: rt.setMemoryLimit counts QuickJS's own allocations, but not all of them (strings
 *   and ArrayBuffers grew to 2 GB under a 32 MB limit), so the wasm memory itself is capped
 *   too: its `maximum` is --memory less the instance's own size (16 MiB at least, the engine's
 *   initial heap). QuickJS then sees malloc fail and throws "out of memory". The parent's RSS
 *   watchdog stays as a backstop.
 * - fuel: a counting interrupt handler. QuickJS calls it about every 10,000 ticks (function
 *   calls and backward jumps), so one unit of --fuel is one such call: deterministic, the same
 *   count in every process. Native builtins ('x'.repeat(1e8)) do not tick.
 * - stack: setMaxStackSize. The wasm code runs on Node's own native stack, whose frames are far
 *   larger than QuickJS's accounting, so some shapes (the parser, JSON.parse of deep nesting)
 *   overflow the host stack first; that RangeError is caught and reported the same way.
 * - max-log, max-output: as in v8.ts.
 * Timeouts (and builtins that never tick) are the parent's watchdog: it kills this process.
 */

type Lib = typeof import('quickjs-emscripten')

const PAGE = 65536
/** The emscripten build's initial heap (INITIAL_MEMORY, 16 MiB) and its largest (2 GiB). */
const MIN_PAGES = 256
const MAX_PAGES = 32768
/**
 * What a fresh instance itself adds to the process (measured: 6-7 MiB), kept out of the wasm
 * heap's cap so that a script filling its heap gets the clean in-process error before the
 * parent's RSS watchdog (which counts the instance too) kills the process.
 */
const INSTANCE_BYTES = 12 * 1024 * 1024
/** 256 KiB: about 1,300 frames of plain recursion; deeper sizes overflow Node's stack first. */
const MAX_STACK_BYTES = 256 * 1024

let loading: Promise<{lib: Lib; wasmModule: WebAssembly.Module}> | undefined

/** Loads the library and compiles its wasm once per process; every call instantiates it anew. */
export function warmQuickjs(): Promise<{lib: Lib; wasmModule: WebAssembly.Module}> {
  loading ??= (async () => {
    const lib = await import('quickjs-emscripten')
    // Resolved from quickjs-emscripten's own location: the variant package is its dependency.
    const req = createRequire(createRequire(import.meta.url).resolve('quickjs-emscripten'))
    const wasmModule = await WebAssembly.compile(await readFile(req.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')))
    return {lib, wasmModule}
  })()
  return loading
}

interface Sandbox {
  rt: QuickJSRuntime
  ctx: QuickJSContext
  memory: WebAssembly.Memory
  maxBytes: number
  /** Set once --fuel ran out; the interrupt handler then stops every later tick too. */
  fuelOut: boolean
}

async function newSandbox(limits: Limits): Promise<Sandbox> {
  const {lib, wasmModule} = await warmQuickjs()
  const pages = Math.min(MAX_PAGES, Math.max(MIN_PAGES, Math.ceil((limits.memoryBytes - INSTANCE_BYTES) / PAGE)))
  const memory = new WebAssembly.Memory({initial: MIN_PAGES, maximum: pages})
  const variant = lib.newVariant(lib.RELEASE_SYNC, {wasmModule, wasmMemory: memory})
  const module = await lib.newQuickJSWASMModuleFromVariant(variant)
  const rt = module.newRuntime()
  rt.setMemoryLimit(Math.min(limits.memoryBytes, pages * PAGE))
  rt.setMaxStackSize(MAX_STACK_BYTES)
  const box: Sandbox = {rt, ctx: rt.newContext(), memory, maxBytes: pages * PAGE, fuelOut: false}
  const fuel = limits.fuel
  if (fuel !== undefined) {
    let used = 0
    rt.setInterruptHandler(() => (box.fuelOut ||= ++used > fuel))
  }
  return box
}

const isHostStackOverflow = (e: unknown) => e instanceof RangeError && /call stack/i.test(e.message)
const STACK_OVERFLOW: JobError = {kind: 'script', message: 'InternalError: stack overflow'}

/** A guest value as plain host data (QuickJS's dump: errors as {name, message, stack}). */
function dump(box: Sandbox, h: QuickJSHandle): unknown {
  try {
    return box.ctx.dump(h)
  } catch {
    return undefined
  }
}

/** Whatever went wrong in the sandbox, as a job error: limits first, then the script's throw. */
function failure(box: Sandbox, limits: Limits, filename: string, thrown: {guest?: unknown; host?: unknown}): JobError {
  if (box.fuelOut) return {kind: 'limit', limit: 'fuel', message: `fuel exhausted: the script used more than --fuel ${limits.fuel}`}
  if (thrown.host !== undefined) {
    if (thrown.host instanceof LimitExceeded) return {kind: 'limit', limit: thrown.host.limit, message: thrown.host.message}
    if (isHostStackOverflow(thrown.host)) return STACK_OVERFLOW
    // Anything else the wasm code threw (a trap, a library assertion) after it ran out of
    // memory is that limit; otherwise it is a bug, reported as one.
    if (heapFull(box)) return memoryLimit(limits)
    return {kind: 'internal', message: `quickjs sandbox failed: ${errorMessage(thrown.host)}`}
  }
  const error = thrown.guest
  const e = error as {name?: unknown; message?: unknown; stack?: unknown} | undefined
  if (e && e.name === 'InternalError' && e.message === 'out of memory') return memoryLimit(limits)
  if (error === undefined && heapFull(box)) return memoryLimit(limits)
  // QuickJS stacks are frames only, each line ending in a newline.
  const stack = typeof e?.stack === 'string' ? scriptStack({stack: e.stack.trimEnd()}, filename) : undefined
  return {kind: 'script', message: errorMessage(error), stack}
}

/** The wasm memory grew (nearly) to its cap: a failure now is most likely out of memory. */
const heapFull = (box: Sandbox) => box.memory.buffer.byteLength >= 0.9 * box.maxBytes
const memoryLimit = (limits: Limits): JobError => ({kind: 'limit', limit: 'memory', message: memoryExceededMessage(limits.memoryBytes)})

/** Line and column of a QuickJS SyntaxError: its stack is `    at <filename>:<line>:<column>`. */
function syntaxPosition(error: unknown, filename: string): {line?: number; column?: number} {
  const stack = String((error as {stack?: unknown})?.stack ?? '')
  const m = new RegExp(`${filename.replace(/[.]/g, '\\.')}:(\\d+):(\\d+)`).exec(stack)
  return m ? {line: Number(m[1]), column: Number(m[2])} : {}
}

/**
 * QuickJS has no bytecode cache worth storing (research/engines.md), so compiling is a syntax
 * check; the empty payload register publishes marks the source as validated for this engine.
 */
export async function compileQuickjs(job: Extract<Job, {op: 'compile'}>): Promise<JobResult> {
  const t0 = performance.now()
  const filename = scriptFilename(job.hash)
  const box = await newSandbox(job.limits)
  try {
    const r = box.ctx.evalCode(Buffer.from(job.source).toString('utf8'), filename, {type: 'global', compileOnly: true})
    if (r.error) {
      // Anything but a limit is the source's fault: a SyntaxError, or nesting too deep to parse.
      const error = dump(box, r.error)
      const e = failure(box, job.limits, filename, {guest: error})
      return {ok: false, error: e.kind === 'script' ? {kind: 'compile', message: e.message, ...syntaxPosition(error, filename)} : e}
    }
  } catch (error) {
    const e = failure(box, job.limits, filename, {host: error})
    return {ok: false, error: e.kind === 'script' ? {kind: 'compile', message: e.message} : e}
  }
  return {ok: true, cachedData: new Uint8Array(0), cache: 'miss', compileMs: performance.now() - t0, runMs: 0}
}

export async function runQuickjs(job: Extract<Job, {op: 'run'}>): Promise<JobResult> {
  const filename = scriptFilename(job.hash)
  const loaded = await loadSource(job)
  if (!loaded.ok) return loaded.result
  // A valid compiled form is the "validated" marker: its payload is empty by design.
  const cache = loaded.payload ? 'hit' : loaded.cache
  const {cacheReason} = loaded
  const input = parseJobInput(job.input)
  if (!input.ok) return {ok: false, error: input.error, cache, cacheReason}
  const t0 = performance.now()
  const box = await newSandbox(job.limits)
  const out = execute(box, job, loaded.source.toString('utf8'), filename)
  if (!out.ok) return {ok: false, error: out.error, cache, cacheReason, compileMs: 0}
  // On a miss the script has now compiled and run: publish the marker so the next run is a hit.
  const cachedData = cache === 'hit' ? undefined : new Uint8Array(0)
  return {ok: true, output: out.output, cache, cacheReason, cachedData, compileMs: 0, runMs: performance.now() - t0}
}

/** A guest string's length, read without copying it out (ctx.getLength is for arrays only). */
function stringLength(ctx: QuickJSContext, h: QuickJSHandle): number {
  return ctx.getProp(h, 'length').consume((n) => ctx.getNumber(n))
}

/** The module body, the call, its promise jobs and the serialization, all inside the sandbox. */
function execute(box: Sandbox, job: Extract<Job, {op: 'run'}>, source: string, filename: string): {ok: true; output: string} | {ok: false; error: JobError} {
  const {ctx, rt} = box
  const {limits} = job
  const budget = new ConsoleBudget(limits.maxLogBytes)
  const fail = (thrown: {guest?: QuickJSHandle; host?: unknown}) => ({
    ok: false as const,
    error: failure(box, limits, filename, budget.exceeded ? {host: budget.exceeded} : {guest: thrown.guest && dump(box, thrown.guest), host: thrown.host}),
  })
  try {
    const hostLog = ctx.newFunction('log', (line) => {
      if (ctx.typeof(line) !== 'string') return
      // Refuse an over-long line before copying it out: its length is a lower bound of its bytes.
      const length = stringLength(ctx, line)
      budget.charge(length)
      budget.write(ctx.getString(line), length)
    })
    const prelude = ctx.unwrapResult(ctx.evalCode(PRELUDE_SOURCE, PRELUDE_FILENAME, {type: 'global'}))
    const api = ctx.unwrapResult(ctx.callFunction(prelude, ctx.undefined, hostLog))
    const body = ctx.evalCode(source, filename, {type: 'global'})
    if (body.error) return fail({guest: body.error})
    const start = ctx.getProp(api, 'start')
    const state = ctx.unwrapResult(ctx.callFunction(start, api, ctx.newString(job.input)))
    const prop = (name: string) => ctx.getProp(state, name)
    while (ctx.typeof(prop('done')) !== 'boolean' || !ctx.dump(prop('done'))) {
      const jobs = rt.executePendingJobs(-1)
      if (jobs.error) return fail({guest: jobs.error})
      if (!ctx.dump(prop('done')) && !rt.hasPendingJob()) {
        // No timers in this sandbox: with no job left, nothing can ever settle the promise.
        return {ok: false, error: {kind: 'limit', limit: 'timeout', message: `timeout: the script's promise can never settle (nothing is left to run; quickjs has no timers)`}}
      }
    }
    if (budget.exceeded) return fail({host: budget.exceeded})
    if (ctx.dump(prop('threw'))) return fail({guest: prop('error')})
    const what = prop('what')
    if (ctx.typeof(what) === 'string') {
      const e = notJsonError({what: ctx.getString(what), path: ctx.getString(prop('path'))})
      return {ok: false, error: {kind: 'badData', message: e.message}}
    }
    const output = prop('output')
    if (ctx.typeof(output) !== 'string') return {ok: false, error: {kind: 'internal', message: 'quickjs sandbox returned no result'}}
    const length = stringLength(ctx, output)
    if (length > limits.maxOutputBytes) return fail({host: maxOutputExceeded(length, limits.maxOutputBytes, true)})
    const text = ctx.getString(output)
    const bytes = Buffer.byteLength(text)
    if (bytes > limits.maxOutputBytes) return fail({host: maxOutputExceeded(bytes, limits.maxOutputBytes)})
    return {ok: true, output: text}
  } catch (error) {
    return fail({host: error})
  }
}
