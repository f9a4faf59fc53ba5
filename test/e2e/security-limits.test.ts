import assert from 'node:assert/strict'
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {burn, register, tmp, writeScript} from '../helpers.js'

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
  fuelCatch: 'module.exports = async () => { let n = 0, caught = 0; for (let k = 0; k < 1000; k++) { try { await (async () => { for (let i = 0; i < 20000; i++) n++ })() } catch { caught++ } } return {n, caught} }',
  promiseLoop: 'module.exports = async () => { for (;;) await null }',
  // Reported as "the script's promise can never settle": the interrupt ended the chain.
  thenLoop: 'module.exports = () => new Promise(() => { const f = () => Promise.resolve().then(f); f() })',
  thenChain: 'module.exports = () => { let n = 0; const step = () => { n++; return Promise.resolve().then(step, step) }; return step() }',
  // A Promise executor catches the interrupt too, with no await in sight.
  executorLoop: 'module.exports = () => { for (;;) new Promise(() => { for (;;); }) }',
}
const names: Record<string, string> = {}
for (const [name, source] of Object.entries(SOURCES)) names[name] = writeScript(join(dir, 'src'), `${name}.js`, source)
for (const [name, file] of Object.entries(names)) register(cacheDir, file, ['--name', name, ...Q])

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
    assert.deepEqual([r.code, r.stdout, r.stderr], [6, '', 'Error: chunk 1 (rows 1-3): fuel exhausted: the script used more than --fuel 1\n'])
  })

  for (const name of ['promiseLoop', 'thenLoop', 'thenChain', 'executorLoop']) {
    it(`${name} under --fuel 1000 is reported as fuel`, () => {
      const r = burn(['run', name, ...Q, '--fuel', '1000', '--timeout', '30s'], {cacheDir, env: direct})
      assert.deepEqual([r.code, r.stdout, r.stderr], [6, '', FUEL(1000)])
    })
  }
})
