import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {burn, json, register, stats, tmp, writeScript, type Result} from '../helpers.js'

// Pre-instantiation (src/engines/warm.ts): the run daemon's runner that waits for a call it
// expects has already run that script's module body. Every outcome must still be byte for byte
// a direct run's (BURN_DAEMON=off): the body's console lines, a body that throws, loops or
// allocates, a --timeout shorter than body and call together, and a call for another script or
// other limits, which must never see that runner.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const direct = {BURN_DAEMON: 'off'}
const viaDaemon = {BURN_DAEMON: 'require', BURN_DEBUG: '1'}
const SERVED = 'burn: debug: served by the run daemon\n'
// (a limit that is not the thing tested: generous on a loaded machine)
const LONG = ['--timeout', '60s']

function served(r: Result): Result {
  assert.ok(r.stderr.endsWith(SERVED), `not served by the run daemon: code ${r.code}, stderr ${JSON.stringify(r.stderr.slice(-400))}`)
  return {...r, stderr: r.stderr.slice(0, -SERVED.length)}
}

/** The same, for a merged 2>&1 (the debug line is the last thing on the one pipe). */
function servedMerged(r: Result): Result {
  assert.ok(r.stdout.endsWith(SERVED), `not served by the run daemon: code ${r.code}, output ${JSON.stringify(r.stdout.slice(-400))}`)
  return {...r, stdout: r.stdout.slice(0, -SERVED.length)}
}

async function daemonUp(cache: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const d = join(cache, 'daemon')
    if (existsSync(d) && readdirSync(d).some((f) => f.endsWith('.sock'))) return
    await sleep(25)
  }
  throw new Error(`no daemon came up for ${cache}`)
}

const strip = (r: Result) => ({code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr})

/** A busy wait of `ms` by the clock: the same wall time on a loaded machine. */
const busy = (ms: number) => `{ const t = Date.now(); while (Date.now() - t < ${ms}) {} }`

describe('the run daemon runs module bodies ahead', () => {
  const cache = tmp()
  const dir = tmp()
  const reg = (name: string, source: string) => register(cache, writeScript(dir, `${name}.js`, source), ['--name', name])
  // register runs a module body too, and refuses one that fails: these fail only from `late` on
  const late = Date.now() + 8000
  reg('throwing', `console.log("before"); if (Date.now() > ${late}) throw new RangeError("init failed")\nmodule.exports = (x) => x\n`)
  reg('looping', `console.log("spinning"); if (Date.now() > ${late}) for (;;) {}\nmodule.exports = (x) => x\n`)
  reg('order', 'console.log("body out"); console.error("body err")\nmodule.exports = (x) => { console.log("call", x); return {x} }\n')
  // 40 MiB kept by the body, 40 MiB more by the call: over --memory 64MiB only if both count
  const fill = (n: number) => `for (let i = 0; i < ${n}; i++) keep.push(new Uint8Array(1 << 20).fill(1))`
  reg('alloc', `const keep = []; ${fill(40)}\nmodule.exports = (n) => { ${fill(40)}; return keep.length }\n`)
  reg('bigbody', `const keep = []; ${fill(200)}\nmodule.exports = () => keep.length\n`)
  // 400 ms in the body, 400 ms in the call: over --timeout 600ms only if both count
  reg('slow', `${busy(400)}\nmodule.exports = () => { ${busy(400)}; return "done" }\n`)
  // a body that leaves a mark on the runner's host objects (the sandbox shares them): a direct run sees 1
  reg('marks', 'TextEncoder.prototype.n = (TextEncoder.prototype.n ?? 0) + 1\nmodule.exports = () => TextEncoder.prototype.n\n')
  reg('reads', 'module.exports = () => TextEncoder.prototype.n ?? null\n')
  reg('heavy', `${busy(300)}\nconst bodyAt = Date.now()\nmodule.exports = () => bodyAt\n`)
  // a promise or a timer in the body: its instance is never used, the call runs it cold
  reg('async', 'let ready = false; Promise.resolve().then(() => { ready = true; console.log("ready") })\nmodule.exports = () => ready\n')
  reg('timer', 'setTimeout(() => console.log("tick"), 0)\nmodule.exports = () => "t"\n')
  // about 100 units of --fuel (10,000 ticks each) in the body, 100 more in the call: quickjs
  const spend = 'for (let i = 0; i < 1e6; i++) n += i'
  reg('fuel', `let n = 0; ${spend}\nmodule.exports = () => { ${spend}; return n }\n`)
  // quickjs: the same bodies under names of their own (a script registered on both engines runs
  // on quickjs by default); register only checks their syntax there
  for (const name of ['throwing', 'looping', 'order', 'alloc', 'async', 'fuel']) {
    const source = readFileSync(join(dir, `${name}.js`), 'utf8') + '// quickjs\n'
    register(cache, writeScript(dir, `q-${name}.js`, source), ['--name', `q-${name}`, '--engine', 'quickjs'])
  }

  it('starts', async () => {
    assert.equal(burn(['run', 'order', '--input', '0'], {cacheDir: cache}).code, 0)
    await daemonUp(cache)
  })

  // [name, args, exit code]: each runs directly, then three times through the daemon (the later ones find the body run ahead)
  const cases: Array<[string, string[], number]> = [
    ['console output of the body, then of the call', ['run', 'order', '--input', '1', ...LONG], 0],
    ['console output of the body, --json', ['run', 'order', '--input', '2', '--json', ...LONG], 0],
    ['invalid input: the body never runs', ['run', 'order', '--input', '{x', ...LONG], 7],
    ['a body that throws', ['run', 'throwing', ...LONG], 5],
    ['a body that throws, --json', ['run', 'throwing', '--json', ...LONG], 5],
    ['a body that loops, under --timeout', ['run', 'looping', '--timeout', '1s'], 6],
    ['a body and a call over --memory together', ['run', 'alloc', '--memory', '64MiB', ...LONG], 6],
    ['a body over --memory alone', ['run', 'bigbody', '--memory', '64MiB', ...LONG], 6],
    ['a --timeout shorter than body and call together', ['run', 'slow', '--timeout', '600ms'], 6],
    ['a body that makes a promise', ['run', 'async', ...LONG], 0],
    ['a body that sets a timer', ['run', 'timer', ...LONG], 0],
    ['quickjs: console output of the body, then of the call', ['run', 'q-order', '--engine', 'quickjs', '--input', '1', ...LONG], 0],
    ['quickjs: invalid input', ['run', 'q-order', '--engine', 'quickjs', '--input', '{x', ...LONG], 7],
    ['quickjs: a body over --max-log', ['run', 'q-order', '--engine', 'quickjs', '--max-log', '12', ...LONG], 6],
    ['quickjs: a body that throws', ['run', 'q-throwing', '--engine', 'quickjs', ...LONG], 5],
    ['quickjs: a body that loops, under --timeout', ['run', 'q-looping', '--engine', 'quickjs', '--timeout', '1s'], 6],
    ['quickjs: a body and a call over --memory together', ['run', 'q-alloc', '--engine', 'quickjs', '--memory', '64MiB', ...LONG], 6],
    ['quickjs: a body and a call over --fuel together', ['run', 'q-fuel', '--engine', 'quickjs', '--fuel', '150', ...LONG], 6],
    ['quickjs: a body within --fuel', ['run', 'q-fuel', '--engine', 'quickjs', '--fuel', '100000', ...LONG], 0],
    ['quickjs: a body that makes a promise', ['run', 'q-async', '--engine', 'quickjs', ...LONG], 0],
  ]
  for (const [name, args, code] of cases) {
    it(`gives exactly a direct run's output and exit code: ${name}`, async () => {
      await daemonUp(cache)
      await sleep(late + 100 - Date.now())
      const a = burn(args, {cacheDir: cache, env: direct})
      assert.equal(a.code, code, a.stderr)
      for (let i = 0; i < 3; i++) {
        const b = served(burn(args, {cacheDir: cache, env: viaDaemon}))
        assert.deepEqual(strip(b), strip(a), `call ${i + 1} through the daemon`)
      }
    })
  }

  it('keeps the body lines first in a merged 2>&1', async () => {
    await daemonUp(cache)
    const want = 'body out\nbody err\ncall 3\n{"x":3}\n'
    assert.equal(burn(['run', 'order', '--input', '3', ...LONG], {cacheDir: cache, env: direct, merge: true}).stdout, want)
    const before = stats(cache).warmHits ?? 0
    for (let i = 0; i < 4; i++) {
      const r = servedMerged(burn(['run', 'order', '--input', '3', ...LONG], {cacheDir: cache, env: viaDaemon, merge: true}))
      assert.deepEqual([r.code, r.stdout], [0, want])
    }
    // (the first call may have found a runner made ready for another call, and the second one too,
    // for the call that followed this one last time: see server.ts fill)
    assert.ok((stats(cache).warmHits ?? 0) - before >= 2, `warm hits: ${JSON.stringify(stats(cache))}`)
  })

  it('counts a body over --max-log against the call, as a direct run', async () => {
    await daemonUp(cache)
    const args = ['run', 'order', '--input', '4', '--max-log', '20', ...LONG]
    const a = burn(args, {cacheDir: cache, env: direct})
    assert.equal(a.code, 6)
    for (let i = 0; i < 3; i++) assert.deepEqual(strip(served(burn(args, {cacheDir: cache, env: viaDaemon}))), strip(a))
  })

  it('gives a call for another script, engine or limits a runner that ran no other body', async () => {
    await daemonUp(cache)
    const run = (args: string[]) => served(burn(['run', ...args], {cacheDir: cache, env: viaDaemon}))
    const want = (r: Result, stdout: string) => assert.deepEqual([r.code, r.stdout], [0, stdout])
    // (a direct run: one body in one process)
    want(burn(['run', 'marks', ...LONG], {cacheDir: cache, env: direct}), '1\n')
    want(burn(['run', 'reads', ...LONG], {cacheDir: cache, env: direct}), 'null\n')
    for (let i = 0; i < 3; i++) want(run(['marks', ...LONG]), '1\n')
    // the runner waiting now ran `marks` ahead: another script must not get it
    want(run(['reads', ...LONG]), 'null\n')
    for (let i = 0; i < 2; i++) want(run(['marks', ...LONG]), '1\n')
    // nor the same script under other limits
    want(run(['marks', '--timeout', '61s']), '1\n')
  })

  it("answers a heavy-init script's later call without running its module body again", async () => {
    await daemonUp(cache)
    const run = () => {
      const r = served(burn(['run', 'heavy', ...LONG], {cacheDir: cache, env: viaDaemon}))
      assert.equal(r.code, 0, r.stderr)
      return Number(json(r))
    }
    run()
    const hits = stats(cache).warmHits ?? 0
    // (time for the runner that waits to run the 300 ms body, even on a loaded machine)
    await sleep(4000)
    const calledAt = Date.now()
    const bodyAt = run()
    // the body that served this call ran before the call was made
    assert.ok(bodyAt < calledAt, `body at ${bodyAt}, call at ${calledAt}`)
    assert.equal((stats(cache).warmHits ?? 0) - hits, 1)
  })
})
