import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {burn, burnAsync, json, tmp, writeScript, type Result} from '../helpers.js'

/*
 * A corpus of sandbox escape attempts, run on both engines. Each script returns a verdict
 * {escaped, detail}; "escaped" means it reached the host: its `process` (and through it the
 * file system and environment), a host function, or burn's own output. On quickjs no attempt
 * may escape. On v8 the table below records which ones do: node:vm is not a security boundary,
 * which is why v8 is for trusted code only (docs/sandbox.md has the same table).
 */

// Shared by every case: prove a reached `process` is the host's by reading a host file and env.
const PRELUDE = `
const verdict = (escaped, detail) => ({escaped, detail: String(detail).split('\\n')[0].slice(0, 120)})
const attempt = (f) => { try { return f() } catch (e) { return verdict(false, e) } }
const proveHost = (p) => {
  if (!p || typeof p.pid !== 'number') return verdict(false, 'no process: ' + typeof p)
  const fs = p.getBuiltinModule ? p.getBuiltinModule('fs') : p.mainModule.require('fs')
  const bytes = fs.readFileSync(p.argv[1]).length
  return verdict(bytes > 0 && typeof p.env.PATH === 'string', 'host process: read a host file, env has PATH')
}
const viaConstructor = (v) => proveHost(v.constructor.constructor('return process')())
`

interface Case {
  name: string
  source: string
  input?: string
  args?: string[]
  /** The verdict from burn's output when the script's own verdict cannot tell. */
  check?: (r: Result) => {escaped: boolean; detail: string}
  /** Escapes on v8 (node:vm)? Never on quickjs. */
  v8: boolean
  /** What the attempt must report it observed, per engine: a verdict that could not tell fails. */
  observed?: {quickjs: string; v8: string}
}

const exportsVerdict = (body: string) => `${PRELUDE}\nmodule.exports = ${body}`

const CASES: Case[] = [
  {
    name: 'this.constructor.constructor("return process")',
    v8: true,
    source: `${PRELUDE}\nconst v = attempt(() => viaConstructor(this))\nmodule.exports = () => v`,
  },
  {
    name: 'constructor chain from the input object',
    v8: true,
    input: '{"a":1}',
    source: exportsVerdict('(input) => attempt(() => viaConstructor(input))'),
  },
  {
    name: 'constructor chain from console.log',
    v8: true,
    source: exportsVerdict('() => attempt(() => proveHost(console.log.constructor("return process")()))'),
  },
  {name: 'constructor chain from module', v8: true, source: exportsVerdict('() => attempt(() => viaConstructor(module))')},
  {name: 'prototype of exports', v8: true, source: exportsVerdict('() => attempt(() => viaConstructor(Object.getPrototypeOf(exports)))')},
  {
    name: 'prototype chain of globalThis',
    v8: false,
    source: exportsVerdict(`() => attempt(() => {
      for (let o = Object.getPrototypeOf(globalThis); o; o = Object.getPrototypeOf(o)) {
        const v = attempt(() => viaConstructor(o))
        if (v.escaped) return v
      }
      return verdict(false, 'chain ends in the sandbox')
    })`),
  },
  {
    name: 'constructor chains from every global',
    v8: true,
    source: exportsVerdict(`() => {
      let last = verdict(false, 'nothing reached the host')
      for (const k of Reflect.ownKeys(globalThis)) {
        const v = globalThis[k]
        if ((typeof v !== 'object' && typeof v !== 'function') || v === null) continue
        const r = attempt(() => viaConstructor(v))
        if (r.escaped) return verdict(true, 'via global ' + String(k) + ': ' + r.detail)
      }
      return last
    }`),
  },
  {
    name: 'host timer function (setTimeout)',
    v8: true,
    source: exportsVerdict('() => attempt(() => proveHost(setTimeout.constructor("return process")()))'),
  },
  {
    name: 'error thrown by a host builtin (structuredClone)',
    v8: true,
    source: exportsVerdict(
      '() => attempt(() => { try { structuredClone(() => 1) } catch (e) { return viaConstructor(e) } return verdict(false, "no error") })',
    ),
  },
  {
    name: 'util.inspect.custom symbol through console.log',
    v8: true,
    source: exportsVerdict(`() => attempt(() => {
      let leaked
      console.log({[Symbol.for('nodejs.util.inspect.custom')](depth, options, inspect) { leaked = inspect || options; return '' }})
      return leaked ? proveHost(leaked.constructor('return process')()) : verdict(false, 'custom inspect not called')
    })`),
  },
  {
    name: 'Proxy on the input, then its prototype',
    v8: true,
    input: '{"a":1}',
    source: exportsVerdict('(input) => attempt(() => viaConstructor(Reflect.getPrototypeOf(new Proxy(input, {}))))'),
  },
  {
    name: 'Object.prototype pollution through the input (toJSON)',
    v8: true,
    input: '{"a":1}',
    args: ['--json'],
    source: `module.exports = (input) => { Object.getPrototypeOf(input).toJSON = function () { return {hijacked: true} }; return {escaped: false, detail: 'polluted'} }`,
    check: (r) => {
      const out = json(r)
      return {escaped: typeof out.hash !== 'string', detail: `burn printed ${r.stdout.trim().slice(0, 60)}`}
    },
  },
  {
    name: 'Object.prototype pollution in the script realm',
    v8: false,
    args: ['--json'],
    source: `Object.prototype.hash = 'forged'; Object.prototype.cache = 'forged'\nmodule.exports = () => ({escaped: false, detail: 'polluted'})`,
    check: (r) => {
      const out = json(r)
      return {escaped: out.hash === 'forged' || out.cache === 'forged', detail: `hash ${String(out.hash).slice(0, 12)}, cache ${out.cache}`}
    },
  },
  {name: 'globalThis.process', v8: false, source: exportsVerdict('() => attempt(() => proveHost(globalThis.process))')},
  {
    name: 'require("fs")',
    v8: false,
    source: exportsVerdict(
      '() => attempt(() => typeof require === "function" ? verdict(true, typeof require("fs").readFileSync) : verdict(false, "require is " + typeof require))',
    ),
  },
  {
    name: 'dynamic import()',
    v8: false,
    source: exportsVerdict(
      '() => import("fs").then((m) => verdict(typeof m.readFileSync === "function", "import resolved"), (e) => verdict(false, e))',
    ),
  },
  {
    name: 'Function("return this")()',
    v8: false,
    source: exportsVerdict(
      '() => attempt(() => { const g = Function("return this")(); return g.process ? proveHost(g.process) : verdict(false, "global has no process; require is " + typeof g.require) })',
    ),
  },
  {
    name: 'indirect eval("this")',
    v8: false,
    source: exportsVerdict(
      '() => attempt(() => { const g = (0, eval)("this"); return g.process ? proveHost(g.process) : verdict(false, "global has no process") })',
    ),
  },
  {
    name: 'Function.caller of the export',
    v8: true,
    source: `${PRELUDE}\nmodule.exports = function f() { return attempt(() => { const c = f.caller; return c ? viaConstructor(c) : verdict(false, 'caller is ' + c) }) }`,
  },
  {
    name: 'Error.prepareStackTrace call sites',
    v8: true,
    source: exportsVerdict(`() => attempt(() => {
      Error.prepareStackTrace = (e, frames) => frames
      const frames = new Error('x').stack
      if (!Array.isArray(frames)) return verdict(false, 'prepareStackTrace not used')
      for (const f of frames) {
        for (const v of [f.getThis?.(), f.getFunction?.()]) {
          if (v) { const r = attempt(() => viaConstructor(v)); if (r.escaped) return r }
        }
      }
      return verdict(false, frames.length + ' frames, no host object')
    })`),
  },
  {
    name: 'host APIs: fetch, std, os, Deno, Bun',
    v8: false,
    source: exportsVerdict(`() => {
      const found = ['fetch', 'std', 'os', 'Deno', 'Bun', 'XMLHttpRequest', 'Buffer'].filter((k) => typeof globalThis[k] !== 'undefined')
      return verdict(found.length > 0, found.length ? 'found ' + found.join(', ') : 'none present')
    }`),
  },
  {
    // A real module, instantiated: its exported function and its instance are objects of the
    // engine's own WebAssembly, and their constructor chains are tried as the others are.
    name: 'WebAssembly',
    v8: false,
    observed: {quickjs: 'absent', v8: 'f() = 42; the constructor chains of its function and instance end in the sandbox'},
    source: exportsVerdict(`() => attempt(() => {
      if (typeof WebAssembly === 'undefined') return verdict(false, 'absent')
      // (module (func (export "f") (result i32) i32.const 42))
      const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 6, 1, 4, 0, 65, 42, 11])
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {})
      const f = instance.exports.f
      if (f() !== 42) return verdict(false, 'the module did not run: f() = ' + f())
      for (const v of [f, instance, instance.exports]) {
        const r = attempt(() => viaConstructor(v))
        if (r.escaped) return r
      }
      return verdict(false, 'f() = 42; the constructor chains of its function and instance end in the sandbox')
    })`),
  },
  {
    // Shared memory and a blocking wait are tried, and so is the constructor chain of each.
    name: 'SharedArrayBuffer and Atomics.wait',
    v8: false,
    observed: {
      quickjs: 'no Atomics; the constructor chains end in the sandbox',
      v8: 'Atomics.wait returned timed-out; the constructor chains end in the sandbox',
    },
    source: exportsVerdict(`() => attempt(() => {
      if (typeof SharedArrayBuffer === 'undefined') return verdict(false, 'no SharedArrayBuffer')
      const sab = new SharedArrayBuffer(4)
      const hasAtomics = typeof Atomics !== 'undefined'
      const waited = hasAtomics ? 'Atomics.wait returned ' + Atomics.wait(new Int32Array(sab), 0, 0, 10) : 'no Atomics'
      for (const v of hasAtomics ? [sab, Atomics.wait] : [sab]) {
        const r = attempt(() => viaConstructor(v))
        if (r.escaped) return r
      }
      return verdict(false, waited + '; the constructor chains end in the sandbox')
    })`),
  },
  {
    // The symbol registry is shared by every realm of an isolate: host objects keyed by a
    // registry symbol, or by any symbol on the global object, are looked for and tried.
    name: 'Symbol.for registry and global symbols',
    v8: false,
    observed: {
      quickjs: '5 symbols looked up on 6 objects; 2 values found, none reached the host',
      v8: '4 symbols looked up on 6 objects; 0 values found, none reached the host',
    },
    source: exportsVerdict(`() => attempt(() => {
      const keys = ['nodejs.rejection', 'nodejs.util.inspect.custom', 'nodejs.util.promisify.custom', 'nodejs.worker_threads.SHARE_ENV']
        .map((k) => Symbol.for(k))
        .concat(Object.getOwnPropertySymbols(globalThis))
      const holders = [globalThis, Object.prototype, Function.prototype, Promise.prototype, Error.prototype, console]
      let tried = 0
      for (const h of holders) {
        for (const k of keys) {
          const v = attempt(() => h[k])
          if (v === undefined || v === null || (typeof v === 'object' && 'escaped' in v)) continue
          tried++
          const r = attempt(() => viaConstructor(v))
          if (r.escaped) return r
        }
      }
      return verdict(false, keys.length + ' symbols looked up on ' + holders.length + ' objects; ' + tried + ' values found, none reached the host')
    })`),
  },
  {
    name: 'constructor chain from a stack overflow error',
    v8: false,
    source: exportsVerdict('() => attempt(() => { try { const f = () => f(); f() } catch (e) { return viaConstructor(e) } })'),
  },
]

type Outcome = {code: number | null; escaped: boolean; detail: string}

const dir = tmp('burn-escape-')
const cacheDir = `${dir}/cache`
const files = CASES.map((c, i) => writeScript(dir, `case-${String(i).padStart(2, '0')}.js`, c.source))

/** Registers the corpus for one engine (one process) and returns the hashes in case order. */
function registerAll(engine: string): string[] {
  const r = burn(['register', ...files, '--engine', engine, '--json'], {cacheDir})
  assert.equal(r.code, 0, r.stdout + r.stderr)
  return (json(r).results as Array<{hash: string}>).map((o) => o.hash)
}

async function runCase(c: Case, hash: string, engine: string): Promise<Outcome> {
  const r = await burnAsync(['run', hash, '--engine', engine, '--timeout', '10s', ...(c.args ?? [])], {cacheDir, input: c.input ?? 'null'})
  if (r.code !== 0) return {code: r.code, escaped: false, detail: `exit ${r.code}: ${r.stderr.split('\n')[0]}`}
  if (c.check) return {code: 0, ...c.check(r)}
  const out = c.args?.includes('--json') ? json(r).result : json(r)
  return {code: 0, escaped: out?.escaped === true, detail: String(out?.detail)}
}

/** Runs the whole corpus, a few processes at a time. */
async function runCorpus(engine: string): Promise<Outcome[]> {
  const hashes = registerAll(engine)
  const outcomes: Outcome[] = new Array(CASES.length)
  let next = 0
  await Promise.all(
    Array.from({length: 4}, async () => {
      while (next < CASES.length) {
        const i = next++
        outcomes[i] = await runCase(CASES[i], hashes[i], engine)
      }
    }),
  )
  if (process.env.BURN_ESCAPE_TABLE) {
    for (const [i, o] of outcomes.entries()) process.stderr.write(`| ${CASES[i].name} | ${o.escaped ? '**yes**' : 'no'} | ${o.detail} |\n`)
  }
  return outcomes
}

describe('sandbox escape corpus', () => {
  it('has at least 20 attempts', () => assert.ok(CASES.length >= 20))

  /** Each attempt reports what it observed; where that is recorded, it is exactly that. */
  function observedAsRecorded(engine: 'quickjs' | 'v8', outcomes: Outcome[]): void {
    for (const [i, o] of outcomes.entries()) {
      assert.notEqual(o.detail, 'undefined', `${CASES[i].name}: no verdict`)
      const want = CASES[i].observed?.[engine]
      if (want !== undefined) assert.equal(o.detail, want, CASES[i].name)
    }
  }

  it('quickjs: no attempt reaches the host', async () => {
    const outcomes = await runCorpus('quickjs')
    observedAsRecorded('quickjs', outcomes)
    for (const [i, o] of outcomes.entries()) {
      assert.equal(o.escaped, false, `${CASES[i].name} escaped: ${o.detail}`)
      // A failed attempt is the script's error, never burn's (exit 1) nor a limit.
      assert.ok(o.code === 0 || o.code === 5, `${CASES[i].name}: ${o.detail}`)
    }
    // Every run had its own sandbox: a normal run after all the pollution is unaffected.
    const r = burn(['run', registerAll('quickjs')[CASES.length - 1], '--engine', 'quickjs'], {cacheDir})
    assert.equal(r.code, 0, r.stderr)
  })

  it('v8: escapes exactly where the table says (trusted code only)', async () => {
    const outcomes = await runCorpus('v8')
    observedAsRecorded('v8', outcomes)
    const escaped = CASES.filter((_, i) => outcomes[i].escaped).map((c) => c.name)
    assert.deepEqual(
      escaped,
      CASES.filter((c) => c.v8).map((c) => c.name),
      outcomes.map((o, i) => `${CASES[i].name}: ${o.detail}`).join('\n'),
    )
  })
})
