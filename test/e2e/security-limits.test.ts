import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {BIN, ROOT, burn, register, tmp, writeScript} from '../helpers.js'

// Issue 11, the limits an untrusted script must not escape: fuel is final, every byte burn
// writes is under a limit, --memory has a floor and is monotonic, no host path leaks out of
// the sandbox, --concurrency is capped.
const dir = tmp('burn-sec-limits-')
const cacheDir = join(dir, 'cache')
const Q = ['--engine', 'quickjs']
const direct = {BURN_DAEMON: 'off'}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const SOURCES: Record<string, string> = {
  // The script: each fuel interrupt became a rejection it caught, and it went on.
  fuelCatch:
    'module.exports = async () => { let n = 0, caught = 0; for (let k = 0; k < 1000; k++) { try { await (async () => { for (let i = 0; i < 20000; i++) n++ })() } catch { caught++ } } return {n, caught} }',
  promiseLoop: 'module.exports = async () => { for (;;) await null }',
  // Reported as "the script's promise can never settle": the interrupt ended the chain.
  thenLoop: 'module.exports = () => new Promise(() => { const f = () => Promise.resolve().then(f); f() })',
  thenChain: 'module.exports = () => { let n = 0; const step = () => { n++; return Promise.resolve().then(step, step) }; return step() }',
  // A Promise executor catches the interrupt too, with no await in sight.
  executorLoop: 'module.exports = () => { for (;;) new Promise(() => { for (;;); }) }',
  hugeThrow: "module.exports = () => { throw new Error('x'.repeat(100e6)) }",
  // Each chunk's error is 1 MB.
  chunkThrow: "module.exports = (rows) => { throw new Error('y'.repeat(1e6) + rows.length) }",
  // `chains` arrays, each `depth` deep: a few KB of JSON, tens or hundreds of MB indented.
  small: "module.exports = (x) => { const a = []; for (let i = 0; i < 1000; i++) a.push({i, s: 'v' + i}); return {n: a.length, x} }",
  // About `mb` MB of strings, kept until it returns.
  alloc: "module.exports = (mb) => { const a = []; for (let i = 0; i < mb * 16; i++) a.push('z'.repeat(65536 - 64) + i); return a.length }",
  // One chunk a second, so that its runners can be counted while they live.
  slowRows: 'module.exports = async (rows) => { await new Promise((r) => setTimeout(r, 1500)); return rows }',
  // v8: what a script's timers and stray promises throw, outside the awaited call.
  timerThrow:
    "module.exports = async () => { setTimeout(() => { throw new Error('u'.repeat(1e7)) }); await new Promise((r) => setTimeout(r, 300)); return 1 }",
  timerLog:
    "module.exports = async () => { setTimeout(() => { for (;;) console.log('z'.repeat(1000)) }); await new Promise((r) => setTimeout(r, 300)); return 1 }",
  strayReject:
    "module.exports = async () => { Promise.reject(new Error('r'.repeat(1e7))); await new Promise((r) => setTimeout(r, 100)); return 1 }",
  deep: 'module.exports = (n) => { const chains = []; for (let c = 0; c < n.chains; c++) { let v = []; for (let i = 0; i < n.depth; i++) v = [v]; chains.push(v) } return chains }',
}
const names: Record<string, string> = {}
for (const [name, source] of Object.entries(SOURCES)) names[name] = writeScript(join(dir, 'src'), `${name}.js`, source)
for (const [name, file] of Object.entries(names)) {
  register(cacheDir, file, ['--name', name, ...Q])
  // for both engines: a plain register of a quickjs-only script keeps it quickjs-only
  register(cacheDir, file, ['--name', name, '--engine', 'v8'])
}

const FUEL = (n: number) => `Error: fuel exhausted: the script used more than --fuel ${n}\n`

async function daemonListening(cache: string): Promise<void> {
  const d = join(cache, 'daemon')
  for (let i = 0; i < 200; i++) {
    if (existsSync(d) && readdirSync(d).some((f) => f.endsWith('.sock'))) return
    await sleep(25)
  }
  throw new Error('no run daemon came up')
}

describe('fuel is final (quickjs)', () => {
  it('the fuel-catch script exits 6 with the fuel message, run directly', () => {
    const r = burn(['run', 'fuelCatch', ...Q, '--fuel', '1'], {cacheDir, env: direct})
    assert.deepEqual([r.code, r.stdout, r.stderr], [6, '', FUEL(1)])
  })

  it('the fuel-catch script exits 6 with the fuel message through the run daemon', async () => {
    const cache = join(tmp('burn-sec-fuel-daemon-'), 'cache')
    register(cache, names.fuelCatch, ['--name', 'fuelCatch', ...Q])
    burn(['run', 'fuelCatch', ...Q, '--fuel', '1'], {cacheDir: cache})
    await daemonListening(cache)
    const r = burn(['run', 'fuelCatch', ...Q, '--fuel', '1'], {cacheDir: cache})
    assert.deepEqual([r.code, r.stdout, r.stderr], [6, '', FUEL(1)])
    burn(['daemon', 'stop'], {cacheDir: cache})
  })

  it('the fuel-catch script exits 6 with the fuel message in batch', () => {
    const r = burn(['batch', 'fuelCatch', ...Q, '--fuel', '1'], {cacheDir, input: '[1,2,3]'})
    assert.deepEqual(
      [r.code, r.stdout, r.stderr],
      [6, '', 'Error: chunk 1 (rows 1-3): fuel exhausted: the script used more than --fuel 1\n'],
    )
  })

  for (const name of ['promiseLoop', 'thenLoop', 'thenChain', 'executorLoop']) {
    it(`${name} under --fuel 100 is reported as fuel`, () => {
      const r = burn(['run', name, ...Q, '--fuel', '100', '--timeout', '30s'], {cacheDir, env: direct})
      assert.deepEqual([r.code, r.stdout, r.stderr], [6, '', FUEL(100)])
    })
  }
})

const CUT = /\.\.\. \[(\d+) characters cut\]/

describe('every byte burn writes is under a limit', () => {
  for (const engine of ['v8', 'quickjs']) {
    it(`${engine}: a 100 MB error message under --max-log 1KiB writes at most 1 KiB to stderr, with a note of the cut`, () => {
      const r = burn(['run', 'hugeThrow', '--engine', engine, '--max-log', '1KiB', '--timeout', '60s'], {cacheDir, env: direct})
      assert.equal(r.code, 5, r.stderr.slice(0, 300))
      assert.equal(r.stdout, '')
      assert.ok(Buffer.byteLength(r.stderr) <= 1024, `${Buffer.byteLength(r.stderr)} bytes`)
      const m = /^Error: Error: (x+)\.\.\. \[(\d+) characters cut\]\n$/.exec(r.stderr)
      assert.ok(m, r.stderr)
      // what is shown and what the note counts make up at least the whole message
      assert.ok(m[1].length + Number(m[2]) >= 100e6, `${m[1].length} + ${m[2]}`)
    })

    it(`${engine}: with --json --max-output 1KiB the error object stays valid JSON under 1 KiB`, () => {
      const r = burn(['run', 'hugeThrow', '--engine', engine, '--json', '--max-output', '1KiB', '--timeout', '60s'], {
        cacheDir,
        env: direct,
      })
      assert.equal(r.code, 5, r.stderr.slice(0, 300))
      assert.equal(r.stderr, '')
      assert.ok(Buffer.byteLength(r.stdout) <= 1024, `${Buffer.byteLength(r.stdout)} bytes`)
      const e = JSON.parse(r.stdout).error
      assert.deepEqual([e.code, e.kind], [5, 'scriptError'])
      assert.match(e.message, /^Error: x+\.\.\. \[\d+ characters cut\]$/)
    })

    it(`${engine}: --pretty of a result 3,500 arrays deep is refused under --max-output (exit 6), not printed`, () => {
      const r = burn(['run', 'deep', '--engine', engine, '--pretty', '--max-output', '16KiB', '--input', '{"chains":1,"depth":3500}'], {
        cacheDir,
        env: direct,
      })
      assert.deepEqual(
        [r.code, r.stdout, r.stderr],
        [6, '', 'Error: result is at least 16412 bytes with --pretty, over --max-output 16384 bytes\n'],
      )
    })

    it(`${engine}: batch --on-error emit writes each chunk's error record under --max-log`, () => {
      const r = burn(['batch', 'chunkThrow', '--engine', engine, '--chunk-size', '1', '--on-error', 'emit', '--max-log', '1KiB'], {
        cacheDir,
        input: '1\n2\n3\n',
      })
      assert.equal(r.code, 0, r.stderr.slice(0, 300))
      const lines = r.stderr.trimEnd().split('\n')
      assert.equal(lines.length, 3)
      for (const line of lines) {
        assert.ok(Buffer.byteLength(line) < 1024, `${Buffer.byteLength(line)} bytes`)
        assert.match(JSON.parse(line).message, CUT)
      }
    })
  }

  for (const chains of [20, 32]) {
    it(`--pretty of ${chains} chains 3,500 deep (hundreds of MB indented) is exit 6 under --max-output 1MiB`, () => {
      const r = burn(['run', 'deep', '--pretty', '--max-output', '1MiB', '--input', `{"chains":${chains},"depth":3500}`], {
        cacheDir,
        env: direct,
      })
      assert.equal(r.code, 6, r.stderr.slice(0, 300))
      assert.equal(r.stdout, '')
      assert.match(r.stderr, /^Error: result is at least \d+ bytes with --pretty, over --max-output 1048576 bytes\n$/)
    })
  }

  for (const env of [direct, {BURN_DAEMON: 'require'}]) {
    const how = env.BURN_DAEMON === 'off' ? 'directly' : 'through the run daemon'
    it(`v8, ${how}: a 10 MB throw in a timer is the call's error (exit 5) under --max-log, not node's crash report`, () => {
      const r = burn(['run', 'timerThrow', '--engine', 'v8', '--max-log', '1KiB'], {cacheDir, env})
      assert.equal(r.code, 5, r.stderr.slice(0, 300))
      assert.ok(r.stderr.startsWith('Error: Error: uuu') && r.stderr.length <= 1024 && /cut/.test(r.stderr), r.stderr.slice(0, 300))
    })
    it(`v8, ${how}: console output from a timer past --max-log is exit 6 with the limit, not an internal error`, () => {
      const r = burn(['run', 'timerLog', '--engine', 'v8', '--max-log', '1KiB'], {cacheDir, env})
      assert.deepEqual([r.code, r.stdout], [6, ''])
      assert.ok(
        r.stderr.endsWith('Error: console output exceeded --max-log 1024 bytes\n') && r.stderr.length <= 1024 + 60,
        r.stderr.slice(-300),
      )
    })
    it(`v8, ${how}: a rejection the script left unhandled is ignored (no 10 MB report, exit 0)`, () => {
      const r = burn(['run', 'strayReject', '--engine', 'v8', '--max-log', '1KiB'], {cacheDir, env})
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, '1\n', ''])
    })
  }
  it('--pretty of a result that fits prints JSON.stringify(result, null, 2)', () => {
    const r = burn(['run', 'deep', '--pretty', '--input', '{"chains":2,"depth":2}'], {cacheDir, env: direct})
    assert.deepEqual([r.code, r.stdout], [0, JSON.stringify([[[[]]], [[[]]]], null, 2) + '\n'])
  })
})

const MEMORY_FLOOR = (value: string) =>
  `Error: invalid --memory ${JSON.stringify(value)}: give at least 8MiB (a runner's own memory moves by a few MiB while a script runs)\n`

describe('--memory has a floor, and the outcome only grows with it', () => {
  for (const engine of ['quickjs', 'v8']) {
    for (const value of ['1', '8KiB', '12KiB', '16KiB', '7.9MiB']) {
      it(`${engine}: run --memory ${value} is exit 2 with the floor`, () => {
        const r = burn(['run', 'small', '--engine', engine, '--memory', value, '--input', '1'], {cacheDir, env: direct})
        assert.deepEqual([r.code, r.stdout, r.stderr], [2, '', MEMORY_FLOOR(value)])
      })
    }

    it(`${engine}: batch --memory 8KiB is exit 2 with the floor`, () => {
      const r = burn(['batch', 'small', '--engine', engine, '--memory', '8KiB'], {cacheDir, input: '[1]'})
      assert.deepEqual([r.code, r.stdout, r.stderr], [2, '', MEMORY_FLOOR('8KiB')])
    })

    it(`${engine}: over a ladder of limits from the floor up, a script that succeeds at one succeeds at every larger one`, () => {
      const ladder = ['8MiB', '12MiB', '16MiB', '24MiB', '32MiB', '64MiB', '128MiB']
      const small = ladder.map((m) => burn(['run', 'small', '--engine', engine, '--memory', m, '--input', '1'], {cacheDir, env: direct}))
      assert.deepEqual(
        small.map((r) => [r.code, r.stdout]),
        ladder.map(() => [0, '{"n":1000,"x":1}\n']),
      )
      // 10 MB of strings: out of memory low on the ladder (on quickjs), then a success for good.
      const alloc = ladder.map((m) => burn(['run', 'alloc', '--engine', engine, '--memory', m, '--input', '10'], {cacheDir, env: direct}))
      const codes = alloc.map((r) => r.code)
      const first = codes.indexOf(0)
      assert.ok(first !== -1, `never succeeded: ${codes}`)
      assert.deepEqual(
        codes.slice(first),
        ladder.slice(first).map(() => 0),
        `not monotonic: ${codes}`,
      )
      for (const r of alloc.slice(0, first)) assert.match(r.stderr, /^Error: memory limit exceeded: /)
    })
  }
})

// Paths of this machine, host stack frames (any frame not in the script's file), wasm internals:
// none may leave the sandbox.
const HOST = new RegExp(
  [
    'node_modules',
    'file://',
    '\\.wasm',
    'wasm://',
    'node:internal',
    '\\((?!script-[0-9a-f]{12}\\.js:)[^()]*:\\d+:\\d+\\)',
    ROOT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
  ].join('|'),
  'm',
)

describe('no host stack or path in any quickjs error', () => {
  const NASTY: Record<string, string> = {
    recurse: 'function f(n) { return f(n + 1) + 1 }\nmodule.exports = () => f(0)',
    parseDeep: 'module.exports = () => JSON.parse("[".repeat(1e6) + "]".repeat(1e6))',
    arrays: 'module.exports = () => { const a = []; for (;;) a.push([1, 2, 3]) }',
    maps: 'module.exports = () => new Map(Array.from({length: 5e6}, (_, i) => [i, {i}])).size',
    deepLog: 'module.exports = () => { let v = []; for (let i = 0; i < 1e5; i++) v = [v]; console.log(v); return 1 }',
    deepResult: 'module.exports = () => { let v = []; for (let i = 0; i < 1e6; i++) v = [v]; return v }',
    hugeThrow: 'module.exports = () => { throw new Error("x".repeat(5e7)) }',
    oomInCatch:
      'module.exports = () => { const keep = []; for (;;) { try { let s = "y"; for (;;) { s += s; keep.push(s) } } catch (e) { keep.push(String(e)) } } }',
    proxyThrown: 'module.exports = () => { throw new Proxy({}, {get() { throw new Error("trap") }, has() { throw new Error("has") }}) }',
    stackGetter: 'module.exports = () => { const e = new Error("m"); Object.defineProperty(e, "stack", {get() { throw e }}); throw e }',
  }
  const nastyCache = join(dir, 'nasty-cache')
  for (const [name, source] of Object.entries(NASTY))
    register(nastyCache, writeScript(join(dir, 'nasty'), `${name}.js`, source), ['--name', name, ...Q])
  for (const limits of [
    ['--memory', '8MiB'],
    ['--memory', '16MiB', '--fuel', '1000', '--json'],
    ['--memory', '64MiB', '--max-log', '1KiB'],
  ]) {
    it(`the corpus under ${limits.join(' ')}: exit 5, 6 or 7, and no host path`, () => {
      for (const name of Object.keys(NASTY)) {
        const r = burn(['run', name, ...Q, ...limits, '--timeout', '10s'], {cacheDir: nastyCache, env: direct})
        assert.ok([5, 6, 7].includes(r.code!), `${name}: exit ${r.code}: ${r.stderr.slice(0, 300)}${r.stdout.slice(0, 300)}`)
        assert.doesNotMatch(r.stderr + r.stdout, HOST, name)
      }
    })
  }
})

/** The most processes at once whose parent is `pid` (sampled until it exits). */
async function mostChildren(pid: number, exited: Promise<unknown>): Promise<number> {
  let done = false
  void exited.then(() => (done = true))
  let most = 0
  while (!done) {
    let n = 0
    for (const p of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) n++
      } catch {
        // exited meanwhile
      }
    }
    most = Math.max(most, n)
    await sleep(50)
  }
  return most
}

describe('--concurrency is capped', () => {
  const max = 4 * availableParallelism()
  const TOO_MANY = `Error: invalid --concurrency 1000: at most ${max} (4 runner processes per CPU, ${availableParallelism()} CPUs here)\n`

  it('batch --concurrency 1000 is exit 2 with the cap', () => {
    const r = burn(['batch', 'small', '--concurrency', '1000'], {cacheDir, input: '[1,2,3]'})
    assert.deepEqual([r.code, r.stdout, r.stderr], [2, '', TOO_MANY])
  })

  it('register --concurrency 1000 is exit 2 with the cap', () => {
    const r = burn(['register', names.small, '--concurrency', '1000'], {cacheDir})
    assert.deepEqual([r.code, r.stdout, r.stderr], [2, '', TOO_MANY])
  })

  it(`batch --concurrency ${max} for 3 rows starts at most 3 runners`, async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'batch', 'slowRows', '--engine', 'v8', '--chunk-size', '1', '--concurrency', String(max), '--timeout', '60s'],
      {
        cwd: ROOT,
        env: {...process.env, BURN_CACHE_DIR: cacheDir},
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stdin.end('1\n2\n3\n')
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    const most = await mostChildren(child.pid!, exited)
    assert.deepEqual([await exited, stdout], [0, '1\n2\n3\n'])
    assert.ok(most <= 3, `${most} runners`)
  })
})
