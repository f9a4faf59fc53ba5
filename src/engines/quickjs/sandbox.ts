import {readFile} from 'node:fs/promises'
import {createRequire} from 'node:module'
import type {QuickJSContext, QuickJSHandle, QuickJSRuntime} from 'quickjs-emscripten'
import {ConsoleBudget} from '../console-budget.js'
import type {JobError, Limits} from '../protocol.js'
import {PRELUDE_FILENAME, PRELUDE_SOURCE} from './prelude.js'
import {boundedScriptError, errorMessage, LimitExceeded, memoryExceededMessage} from '../script-errors.js'
import {tuneWasmForQuickjs} from '../wasm-flags.js'

/*
 * One quickjs sandbox = a FRESH wasm instance with its own linear memory, used for one call and
 * dropped whole: an out-of-memory or a native stack overflow can leave QuickJS's state broken,
 * and nothing of a broken instance is ever reused. The library and the compiled wasm code are
 * loaded once per process.
 *
 * Limits set here:
 * - memory: rt.setMemoryLimit counts QuickJS's own allocations, but not all of them (strings
 *   and ArrayBuffers grew to 2 GB under a 32 MB limit: docs/architecture.md, "Measured facts"), so the wasm memory
 *   itself is capped too. QuickJS then sees malloc fail and throws "out of memory". The cap
 *   leaves room under --memory for what the process adds around the heap, so a script that
 *   fills its heap gets this clean error before the parent's RSS watchdog (the backstop) kills.
 * - fuel: a counting interrupt handler. QuickJS calls it about every 10,000 ticks (function
 *   calls and backward jumps), so one unit of --fuel is one such call: deterministic, the same
 *   count in every process. Native builtins ('x'.repeat(1e8)) do not tick.
 * - stack: setMaxStackSize. The wasm code runs on Node's own native stack, whose frames are far
 *   larger than QuickJS's accounting, so some shapes (the parser, JSON.parse of deep nesting)
 *   overflow the host stack first; that RangeError is caught and reported the same way.
 * - max-log: the console's ConsoleBudget, as in v8.ts.
 */

type Lib = Pick<typeof import('quickjs-emscripten'), 'newQuickJSWASMModuleFromVariant' | 'newVariant' | 'RELEASE_SYNC'>

const PAGE = 65536
/** The emscripten build's initial heap (INITIAL_MEMORY, 16 MiB) and its largest (2 GiB). */
const MIN_PAGES = 256
const MAX_PAGES = 32768
/** Kept out of the heap's cap: what the process adds around the heap while the script runs. */
const HEADROOM_BYTES = 8 * 1024 * 1024
/** 256 KiB: about 1,300 frames of plain recursion; deeper sizes overflow Node's stack first. */
const MAX_STACK_BYTES = 256 * 1024

let loading: Promise<{lib: Lib; wasmModule: WebAssembly.Module}> | undefined

/** Loads the library and compiles its wasm once per process; every sandbox instantiates it. */
export function warmQuickjs(): Promise<{lib: Lib; wasmModule: WebAssembly.Module}> {
  loading ??= (async () => {
    // Resolved from quickjs-emscripten's own location: the core and the variant are its dependencies.
    const req = createRequire(createRequire(import.meta.url).resolve('quickjs-emscripten'))
    tuneWasmForQuickjs()
    const wasmModule = readFile(req.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')).then((bytes) => WebAssembly.compile(bytes))
    // The core and the one variant used, as CommonJS: quickjs-emscripten's own (ESM) entry loads
    // all four of its variants, ~15 ms more on every quickjs run.
    const {newQuickJSWASMModuleFromVariant, newVariant} = req('quickjs-emscripten-core') as Lib
    const {default: RELEASE_SYNC} = req('@jitl/quickjs-wasmfile-release-sync') as {default: Lib['RELEASE_SYNC']}
    return {lib: {newQuickJSWASMModuleFromVariant, newVariant, RELEASE_SYNC}, wasmModule: await wasmModule}
  })()
  return loading
}

export interface Sandbox {
  rt: QuickJSRuntime
  ctx: QuickJSContext
  /** The prelude's API (quickjs/prelude.ts): `input(json)`, `start()`, then `serialize(state)`. */
  api: QuickJSHandle
  console: ConsoleBudget
  limits: Limits
  memory: WebAssembly.Memory
  maxBytes: number
  /** Set once --fuel ran out; the interrupt handler then stops every later tick too. */
  fuelOut: boolean
}

/** A fresh instance with the limits set and the prelude run: ready for a script. */
export async function newSandbox(limits: Limits): Promise<Sandbox> {
  const {lib, wasmModule} = await warmQuickjs()
  const pages = Math.min(MAX_PAGES, Math.max(MIN_PAGES, Math.ceil((limits.memoryBytes - HEADROOM_BYTES) / PAGE)))
  const memory = new WebAssembly.Memory({initial: MIN_PAGES, maximum: pages})
  // Instantiated with the synchronous constructor, not through the `wasmModule` option, which
  // awaits WebAssembly.instantiate: a process's second instance (a call's, after a module body
  // or a compile check ran in the first) then sat idle 65-107 ms (V8 11.3, its background
  // compiler busy tiering up the first instance's code) where `new WebAssembly.Instance` takes
  // 2-4 ms. Quickjs calls back to back through the run daemon: 0.43 -> 0.29 s each (README.md).
  const emscriptenModule = {
    instantiateWasm(imports: WebAssembly.Imports, onSuccess: (instance: WebAssembly.Instance) => void) {
      const instance = new WebAssembly.Instance(wasmModule, imports)
      onSuccess(instance)
      return instance.exports
    },
  }
  const module = await lib.newQuickJSWASMModuleFromVariant(lib.newVariant(lib.RELEASE_SYNC, {wasmMemory: memory, emscriptenModule}))
  const rt = module.newRuntime()
  rt.setMemoryLimit(Math.min(limits.memoryBytes, pages * PAGE))
  rt.setMaxStackSize(MAX_STACK_BYTES)
  let fuelOut = false
  const ctx = rt.newContext()
  const fuel = limits.fuel
  if (fuel !== undefined) {
    let used = 0
    rt.setInterruptHandler(() => ++used > fuel)
    unwindWhenInterrupted(ctx, () => (fuelOut = true))
  }
  // (replaced by a module body run ahead, whose lines are held for its call: engines/warm.ts)
  let budget = new ConsoleBudget(limits.maxLogBytes)
  const hostLog = ctx.newFunction('log', (line) => {
    if (ctx.typeof(line) !== 'string') return
    // Refuse an over-long line before copying it out: its length is a lower bound of its bytes.
    const length = stringLength(ctx, line)
    budget.charge(length)
    budget.write(ctx.getString(line), length)
  })
  const prelude = ctx.unwrapResult(ctx.evalCode(PRELUDE_SOURCE, PRELUDE_FILENAME, {type: 'global'}))
  const api = ctx.unwrapResult(ctx.callFunction(prelude, ctx.undefined, hostLog))
  return {
    rt,
    ctx,
    api,
    get console() {
      return budget
    },
    set console(b: ConsoleBudget) {
      budget = b
    },
    limits,
    memory,
    maxBytes: pages * PAGE,
    get fuelOut() {
      return fuelOut
    },
  }
}

/** Thrown through the wasm code when --fuel runs out: nothing of the guest runs after it. */
class FuelOut extends Error {}

/**
 * QuickJS turns its interrupt into an "interrupted" error that try/catch cannot catch, but a
 * promise boundary can: an async function or a Promise executor turns it into a rejection, and
 * the script awaits it in a try and goes on (QuickJS then asks again only 10,000 ticks later).
 * So the interrupt is not left to QuickJS: the host's callback throws, which unwinds every wasm
 * frame back to the host call that entered the guest. The instance is left mid-call and is
 * never entered again (a sandbox serves one call); failure() reads only fuelOut.
 */
function unwindWhenInterrupted(ctx: QuickJSContext, stopped: () => void): void {
  const callbacks = internals(ctx).module.callbacks
  const ask = callbacks.shouldInterrupt
  callbacks.shouldInterrupt = (...args) => {
    if (!ask(...args)) return 0
    stopped()
    throw new FuelOut()
  }
}

let prepared: {key: string; box: Promise<Sandbox>} | undefined
const sandboxKey = (l: Limits) => `${l.memoryBytes}/${l.fuel}/${l.maxLogBytes}`

/**
 * Makes the sandbox of the coming run now, before the script's deadline and memory baseline
 * start: the instance (about 7 MiB of RSS) and the prelude are burn's cost, not the script's.
 */
export async function prepareSandbox(limits: Limits): Promise<void> {
  const key = sandboxKey(limits)
  // A pooled runner may have made it already, from the daemon's hint.
  if (prepared?.key !== key) prepared = {key, box: newSandbox(limits)}
  // A sandbox that cannot be made fails the run that takes it, as a job error (takeSandbox).
  await prepared.box.then(
    () => {},
    () => {},
  )
}

/**
 * The prepared sandbox if it was built for these limits, else a new one; either way used only
 * once. A sandbox is built from the memory, fuel and log limits (its key); the call's own
 * limits (--max-output, --timeout) are the call's: a daemon runner prepares with the limits
 * the expected call had last time.
 */
export async function takeSandbox(limits: Limits): Promise<Sandbox> {
  const p = prepared
  prepared = undefined
  if (!p || p.key !== sandboxKey(limits)) return newSandbox(limits)
  const box = await p.box
  box.limits = limits
  return box
}

/*
 * quickjs-emscripten's newString and getString move a string through the wasm heap one
 * character at a time in JS (about 150 ms for a 7 MB input on a cold process); these two move
 * its UTF-8 bytes with one copy. They reach the context's protected members, which is why
 * quickjs-emscripten is pinned to an exact version in package.json.
 */
interface ContextInternals {
  module: {
    _malloc(bytes: number): number
    _free(ptr: number): void
    HEAPU8: Uint8Array
    /** What the wasm code calls into the host; quickjs-emscripten's own wrappers catch host errors. */
    callbacks: {shouldInterrupt(...args: unknown[]): number}
  }
  ffi: {
    QTS_NewString(ctx: number, ptr: number): number
    QTS_GetString(ctx: number, value: number): number
    QTS_FreeCString(ctx: number, ptr: number): void
  }
  ctx: {value: number}
  memory: {heapValueHandle(ptr: number): QuickJSHandle}
}
const internals = (ctx: QuickJSContext) => ctx as unknown as ContextInternals

/** A guest string of `text`, which must hold no NUL: QuickJS reads it as a C string. */
export function newGuestString(box: Sandbox, text: string): QuickJSHandle {
  const {module, ffi, ctx: pointer, memory} = internals(box.ctx)
  const bytes = Buffer.from(text)
  const ptr = module._malloc(bytes.length + 1)
  if (!ptr) throw new LimitExceeded('memory', memoryExceededMessage(box.limits.memoryBytes))
  // HEAPU8 is read after the malloc: growing the wasm memory replaces it.
  module.HEAPU8.set(bytes, ptr)
  module.HEAPU8[ptr + bytes.length] = 0
  try {
    return memory.heapValueHandle(ffi.QTS_NewString(pointer.value, ptr))
  } finally {
    module._free(ptr)
  }
}

/**
 * A guest string's UTF-8 bytes, read in place by `read` (they are valid only during the call).
 * The string must hold no NUL: JSON text never does.
 */
export function readGuestString<T>(ctx: QuickJSContext, h: QuickJSHandle, read: (utf8: Buffer) => T): T {
  const {module, ffi, ctx: pointer} = internals(ctx)
  const ptr = ffi.QTS_GetString(pointer.value, h.value as unknown as number)
  if (!ptr) throw new Error('out of memory copying the result out of the sandbox')
  try {
    const heap = module.HEAPU8
    return read(Buffer.from(heap.buffer, ptr, heap.indexOf(0, ptr) - ptr))
  } finally {
    ffi.QTS_FreeCString(pointer.value, ptr)
  }
}

/** A guest string's length, read without copying it out (ctx.getLength is for arrays only). */
export function stringLength(ctx: QuickJSContext, h: QuickJSHandle): number {
  return ctx.getProp(h, 'length').consume((n) => ctx.getNumber(n))
}

/** A guest value as plain host data (QuickJS's dump: errors as {name, message, stack}). */
export function dump(box: Sandbox, h: QuickJSHandle): unknown {
  try {
    return box.ctx.dump(h)
  } catch {
    return undefined
  }
}

/** The sandbox broke (not a limit): its message only, never a host stack (paths of this machine). */
export const sandboxFailed = (error: unknown): JobError => ({kind: 'internal', message: `quickjs sandbox failed: ${errorMessage(error)}`})

export const isHostStackOverflow = (e: unknown) => e instanceof RangeError && /call stack/i.test(e.message)

/** The wasm memory grew (nearly) to its cap: a failure now is most likely out of memory. */
const heapFull = (box: Sandbox) => box.memory.buffer.byteLength >= 0.9 * box.maxBytes

/**
 * Whatever went wrong in the sandbox, as a job error: limits first (fuel, console, memory),
 * then the script's own throw. `guest` is the dumped thrown value; `host` an exception of the
 * host side (the library, the wasm code, a limit).
 */
export function failure(box: Sandbox, filename: string, thrown: {guest?: unknown; host?: unknown}): JobError {
  const {limits} = box
  if (box.fuelOut) return {kind: 'limit', limit: 'fuel', message: `fuel exhausted: the script used more than --fuel ${limits.fuel}`}
  const limit = box.console.exceeded ?? (thrown.host instanceof LimitExceeded ? thrown.host : undefined)
  if (limit) return {kind: 'limit', limit: limit.limit, message: limit.message}
  const memory: JobError = {kind: 'limit', limit: 'memory', message: memoryExceededMessage(limits.memoryBytes)}
  if (thrown.host !== undefined) {
    if (isHostStackOverflow(thrown.host)) return {kind: 'script', message: 'InternalError: stack overflow'}
    // Anything else the wasm code threw (a trap, a library assertion) once its heap is full is
    // that limit; otherwise it is a bug, reported as one.
    if (heapFull(box)) return memory
    return sandboxFailed(thrown.host)
  }
  const e = thrown.guest as {name?: unknown; message?: unknown; stack?: unknown} | null | undefined
  if (e?.name === 'InternalError' && e.message === 'out of memory') return memory
  // When even the "out of memory" error cannot be allocated, QuickJS throws null.
  if (e == null && heapFull(box)) return memory
  // QuickJS stacks are frames only, each line ending in a newline.
  return boundedScriptError(errorMessage(e), typeof e?.stack === 'string' ? e.stack.trimEnd() : undefined, filename, limits.maxLogBytes)
}
