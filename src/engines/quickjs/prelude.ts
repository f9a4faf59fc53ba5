import {cutNote} from '../../util/cut-text.js'
import {checkedStringify, findUnserializable} from '../../util/result.js'

/** The name the prelude runs under; its frames are dropped from the script's stacks. */
export const PRELUDE_FILENAME = 'burn-prelude.js'

/*
 * Guest code that runs in every quickjs sandbox before the script: it sets up the script
 * contract (module, exports, console) and returns, to the host only, the functions that call
 * the export and serialize its result. Only strings cross the boundary in either direction
 * (input JSON in; result JSON, log lines and error descriptions out), so the host never holds
 * a guest object and the guest never holds a host one.
 *
 * Everything the prelude relies on is captured before the script runs, so a script that
 * replaces JSON.stringify or Promise.prototype.then can spoil only its own result, never make
 * burn print something that is not JSON. The result check is result.ts's own checkedStringify
 * and findUnserializable (their source, evaluated here): one rule for both engines.
 *
 * Math.random is a fixed-seed PRNG (mulberry32), so a call is a pure function of its input
 * and --fuel; Date reads the real clock, except under `run --memo` (and --idempotency-key),
 * where the host passes a fixed time with the input, so a stored result is what any later
 * call would compute (documented in docs/sandbox.md).
 */
export const PRELUDE_SOURCE = `(function (hostLog) {
  'use strict'
  const global = globalThis
  const stringify = JSON.stringify, parse = JSON.parse, apply = Reflect.apply
  const PromiseCtor = Promise, promiseResolve = Promise.resolve, then = Promise.prototype.then
  const StringCtor = String, InternalErrorCtor = InternalError, slice = String.prototype.slice
  const cutNote = (${cutNote.toString()})
  const BigIntProto = BigInt.prototype
  const findUnserializable = (${findUnserializable.toString()})
  const checkedStringify = (${checkedStringify.toString()})
  const tooDeep = (e) => e instanceof InternalErrorCtor && e.message === 'stack overflow'
  const find = (v) => findUnserializable(v, tooDeep)

  // A BigInt is never JSON (result.ts): JSON.stringify would call a toJSON given to BigInts,
  // so none can be given. Writes are ignored, as for a read-only property in sloppy code.
  Object.defineProperty(BigIntProto, 'toJSON', {get: () => undefined, set: () => {}, enumerable: false, configurable: false})

  let seed = 0x2545f491
  Object.defineProperty(Math, 'random', {writable: true, configurable: true, enumerable: false, value: function random() {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }})

  // A Date that reads \`clock\` where it would read the real clock: Date.now(), new Date() and
  // Date() called as a function; every other use is the real Date's.
  const fixClock = (clock) => {
    const RealDate = Date
    const construct = Reflect.construct
    const FixedDate = function Date(...args) {
      if (new.target === undefined) return StringCtor(new RealDate(clock))
      return construct(RealDate, args.length === 0 ? [clock] : args, new.target)
    }
    FixedDate.prototype = RealDate.prototype
    Object.defineProperty(RealDate.prototype, 'constructor', {value: FixedDate, writable: true, configurable: true, enumerable: false})
    FixedDate.now = function now() { return clock }
    FixedDate.parse = RealDate.parse
    FixedDate.UTC = RealDate.UTC
    Object.defineProperty(global, 'Date', {value: FixedDate, writable: true, configurable: true, enumerable: false})
  }

  const module = {exports: {}}
  global.module = module
  global.exports = module.exports

  const format = (v) => {
    try {
      if (typeof v === 'string') return v
      if (v instanceof Error) return v.stack ? StringCtor(v) + '\\n' + v.stack : StringCtor(v)
      const json = stringify(v)
      return json === undefined ? StringCtor(v) : json
    } catch {
      try { return StringCtor(v) } catch { return '[unprintable]' }
    }
  }
  const write = function (...args) {
    let line = ''
    for (let i = 0; i < args.length; i++) line += (i ? ' ' : '') + format(args[i])
    hostLog(line + '\\n')
  }
  global.console = {log: write, info: write, warn: write, error: write, debug: write, trace: write}

  let input, result
  return {
    // Called before the script runs, so invalid input fails the same whatever the script does.
    input(text, clock) {
      if (clock !== undefined) fixClock(clock)
      input = parse(text)
    },
    // Calls the export with the input and awaits it. The state has no prototype, so no setter a
    // script puts on Object.prototype can intercept it.
    start() {
      const state = {__proto__: null, done: false, threw: false, error: undefined, output: undefined, what: undefined, path: undefined}
      const fail = (e) => { state.threw = true; state.error = e; state.done = true }
      const settle = (value) => { result = value; state.done = true }
      try {
        const exported = module.exports
        const value = typeof exported === 'function' ? exported(input) : exported
        apply(then, apply(promiseResolve, PromiseCtor, [value]), [settle, fail])
      } catch (e) {
        fail(e)
      }
      return state
    },
    // The thrown value as the host copies it out, its strings cut to \`max\` characters here:
    // copying a 100 MB message out of the sandbox takes seconds. Of an error-like value only its
    // name, message and stack are read (what the host prints); any other value is left whole.
    bound(e, max) {
      const cut = (s) => (typeof s === 'string' && s.length > max ? apply(slice, s, [0, max]) + cutNote(s.length - max) : s)
      if (typeof e === 'string') return cut(e)
      if (e === null || typeof e !== 'object' || !('message' in e)) return e
      return {name: cut(e.name), message: cut(StringCtor(e.message)), stack: cut(e.stack)}
    },
    // A call of its own, once the result settled: the host then knows that a native stack
    // overflow here (nesting the wasm code cannot recurse through) is the result's nesting.
    // (BigInts have no toJSON: see above.)
    serialize(state) {
      try {
        const r = checkedStringify(result, stringify, find, false)
        if (typeof r === 'string') {
          state.output = r
        } else {
          state.what = StringCtor(r.what)
          state.path = StringCtor(r.path)
        }
      } catch (e) {
        state.threw = true
        state.error = e
      }
    },
  }
})`
