import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {burn, burnPeak, json, register, tmp, writeScript, type Result} from '../helpers.js'

// Every breach ends with its own error and exit 6 (or 5 for a RangeError the script could
// catch), within the limit plus a margin, and burn itself exits normally (a code, no signal).
// A memory breach is also measured: the peak resident size of the process that ran the script
// (VmHWM from /proc) stays under the limit plus what that process holds running a trivial script,
// plus a margin for what it grows between two of the watchdog's polls.
const cache = tmp()
const dir = tmp()
const ok = register(cache, writeScript(dir, 'ok.js', 'module.exports = (x) => ({ok: x})\n'))

interface Breach {
  name: string
  src: string
  args: string[]
  code: number
  stderr: RegExp
  /**
   * Bound on the whole `burn run` under a 500 ms --timeout: these loops never end on their own, so
   * any bound proves the kill, and the message names the limit. Wide: on a loaded CI machine a
   * process start alone took over a second, and a 3 s bound once failed there at 3.6 s.
   */
  maxMs?: number
  /** a memory breach: its limit, in bytes */
  memory?: number
}

const MiB = 1024 * 1024
const MEMORY_MESSAGE = /^Error: memory limit exceeded: the script used more than --memory 64MiB\n$/
const MARGIN = 32 * MiB

const breaches: Breach[] = [
  {
    name: 'while(true){}',
    src: 'module.exports = () => { while (true) {} }',
    args: ['--timeout', '500ms'],
    code: 6,
    stderr: /^Error: timeout: the script ran longer than --timeout 500ms\n$/,
    maxMs: 10_000,
  },
  {
    name: 'a loop inside a promise callback',
    src: 'module.exports = () => Promise.resolve().then(() => { while (true) {} })',
    args: ['--timeout', '500ms'],
    code: 6,
    stderr: /^Error: timeout: the script ran longer than --timeout 500ms\n$/,
    maxMs: 10_000,
  },
  {
    name: 'an async function that never settles',
    src: 'module.exports = async () => { await new Promise(() => {}) }',
    args: ['--timeout', '500ms'],
    code: 6,
    stderr: /^Error: timeout: /,
    maxMs: 10_000,
  },
  {
    name: 'a timer that keeps the promise pending',
    src: 'module.exports = () => new Promise(() => setInterval(() => {}, 50))',
    args: ['--timeout', '500ms'],
    code: 6,
    stderr: /^Error: timeout: the script ran longer than --timeout 500ms\n$/,
    maxMs: 10_000,
  },
  {
    name: 'an array push loop',
    src: 'module.exports = () => { const a = []; for (;;) a.push({x: Math.random(), s: "k" + a.length}) }',
    args: ['--memory', '64MiB'],
    code: 6,
    stderr: MEMORY_MESSAGE,
    memory: 64 * MiB,
  },
  {
    name: 'new Array(5e8).fill(0)',
    src: 'module.exports = () => new Array(5e8).fill(0).length',
    args: ['--memory', '64MiB'],
    code: 6,
    stderr: MEMORY_MESSAGE,
    memory: 64 * MiB,
  },
  {
    name: 'string doubling',
    src: 'module.exports = () => { let s = "x"; for (;;) s += s }',
    args: ['--memory', '64MiB'],
    code: 5,
    stderr: /^Error: RangeError: Invalid string length\n/,
  },
  {
    name: 'string doubling that touches the memory',
    src: 'module.exports = () => { let s = "x"; const keep = []; for (;;) { s += s; keep.push(s.slice(1)) } }',
    args: ['--memory', '64MiB'],
    code: 6,
    stderr: MEMORY_MESSAGE,
    memory: 64 * MiB,
  },
  {
    name: 'many 1 MB typed arrays (off the V8 heap)',
    src: 'module.exports = () => { const k = []; for (;;) k.push(new Uint8Array(1 << 20).fill(1)) }',
    args: ['--memory', '64MiB'],
    code: 6,
    stderr: MEMORY_MESSAGE,
    memory: 64 * MiB,
  },
  {
    // Untouched buffers fill resident memory slowly (4-6 s here): a timeout long enough that
    // only the memory limit can end it, never a timeout passed off as a memory breach.
    name: 'many 1 MB ArrayBuffers',
    src: 'module.exports = () => { const k = []; for (;;) k.push(new ArrayBuffer(1 << 20)) }',
    args: ['--memory', '64MiB', '--timeout', '90s'],
    code: 6,
    stderr: MEMORY_MESSAGE,
    memory: 64 * MiB,
  },
  {
    name: 'deep recursion',
    src: 'const f = (n) => f(n + 1) + 1\nmodule.exports = () => f(0)',
    args: [],
    code: 5,
    stderr: /^Error: RangeError: Maximum call stack size exceeded\n/,
  },
  {
    name: 'a result larger than --max-output',
    src: 'module.exports = () => "y".repeat(2000)',
    args: ['--max-output', '1000'],
    code: 6,
    stderr: /^Error: result is 2002 bytes, over --max-output 1000 bytes\n$/,
  },
  {
    name: 'a flood of console output',
    src: 'module.exports = () => { for (;;) console.log("flood") }',
    args: ['--max-log', '1000'],
    code: 6,
    stderr: /Error: console output exceeded --max-log 1000 bytes\n$/,
  },
  {
    name: 'a flood that catches the limit error',
    src: 'module.exports = () => { try { for (;;) console.log("flood") } catch {} return "caught" }',
    args: ['--max-log', '1000'],
    code: 6,
    stderr: /Error: console output exceeded --max-log 1000 bytes\n$/,
  },
]

/** The peak resident size of the process that runs a trivial script: what a breach's is measured against. */
let trivial: number | undefined
async function trivialPeak(): Promise<number> {
  if (trivial === undefined) {
    const r = await burnPeak(['run', ok, '--input', '1'], {cacheDir: cache})
    assert.equal(r.code, 0, r.stderr)
    trivial = r.peakRss
  }
  return trivial
}

function assertPeakUnder(peak: number, bound: number): void {
  const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`
  // (a node process is never this small: a smaller figure means /proc showed no process of the call)
  assert.ok(peak >= 16 * MiB, `peak ${mib(peak)}: the process that ran the script was not measured`)
  assert.ok(peak < bound, `peak resident size ${mib(peak)}, over the bound ${mib(bound)}`)
}

describe('limits on the v8 engine', () => {
  for (const b of breaches) {
    it(`${b.name} -> exit ${b.code}, burn stays up, the store stays sound`, async () => {
      const hash = register(cache, writeScript(dir, `${b.name.replace(/\W+/g, '_')}.js`, b.src + '\n'))
      const t0 = Date.now()
      const r: Result & {peakRss?: number} = b.memory
        ? await burnPeak(['run', hash, ...b.args], {cacheDir: cache})
        : burn(['run', hash, ...b.args], {cacheDir: cache})
      const ms = Date.now() - t0
      assert.equal(r.signal, null, 'burn itself was not killed')
      assert.equal(r.code, b.code, r.stderr.slice(-500))
      assert.match(r.stderr.replace(/^(flood\n)+/, ''), b.stderr)
      assert.equal(r.stdout, '')
      if (b.maxMs) assert.ok(ms < b.maxMs, `ended in ${ms} ms`)
      if (b.memory) assertPeakUnder(r.peakRss!, (await trivialPeak()) + b.memory + MARGIN)
      const j = burn(['run', hash, ...b.args, '--json'], {cacheDir: cache, timeoutMs: 120_000})
      assert.equal(j.code, b.code)
      assert.equal(json(j).error.code, b.code)
      // a normal run right after works, from the cache
      assert.deepEqual(json(burn(['run', ok, '--input', '1', '--json'], {cacheDir: cache})), {hash: ok, cache: 'hit', result: {ok: 1}})
    })
  }

  it('limits are counted by outcome', () => {
    const counters = json(burn(['stats', '--json'], {cacheDir: cache})).counters
    // each breach ran twice (plain and --json)
    assert.equal(counters['runs.limit.timeout'] + counters['runs.limit.memory'], 2 * 9)
    assert.equal(counters['runs.limit.timeout'], 2 * 4)
    assert.equal(counters['runs.limit.memory'], 2 * 5)
    assert.equal(counters['runs.limit.max-output'], 2)
    assert.equal(counters['runs.limit.max-log'], 4)
    assert.equal(counters['runs.script'], 4)
  })

  it('a hit under limits does not recompile: no V8 flag differs between register and run', () => {
    const j = json(
      burn(['run', ok, '--input', '2', '--json', '--memory', '32MiB', '--timeout', '2s', '--max-output', '1KiB'], {cacheDir: cache}),
    )
    assert.equal(j.cache, 'hit')
  })
})
