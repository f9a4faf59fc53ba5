import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {cpSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {FAULT_POINTS} from '../../src/util/faults.js'
import {eachConcurrently} from '../../src/util/each-concurrently.js'
import {BIN, burn, tmp} from '../helpers.js'
import {plant, type Plant} from '../torture/plant.js'
import {kill9, killStoreProcs, storeProcs} from '../torture/procs.js'
import {DEFAULT_SEED, torture} from '../torture/harness.js'
import {summary, tortureHeld} from '../torture/report.js'

// The short setting of the torture harness (the long one: `npm run torture`). The seed is fixed
// (BURN_TORTURE_SEED overrides it) and printed with the report, so a failure can be rerun.
describe('torture (short)', () => {
  it('kills inside every writer and the daemon: no wrong result, exact counters, a clean store', async () => {
    const seed = Number(process.env.BURN_TORTURE_SEED) || DEFAULT_SEED
    const seconds = Number(process.env.BURN_TORTURE_SECONDS) || 35
    const rep = await torture({seconds, workers: 4, scripts: 6, killRate: 0.05, faultRate: 0.35, seed})
    const text = `${summary(rep)}\n${JSON.stringify({...rep, problems: rep.problems.slice(0, 10)}, null, 1)}`
    console.log(summary(rep))
    assert.equal(rep.wrongResults, 0, text)
    assert.equal(rep.unexpectedExits, 0, text)
    assert.equal(rep.unplannedDamage, 0, text)
    for (const writer of ['register', 'run (daemon)', 'gc', 'forget', 'repair', 'fold'] as const)
      assert.ok(rep.insideKills[writer] > 0, `no kill inside ${writer}: ${text}`)
    assert.ok(rep.daemonServedOk > 0, `no call served by a run daemon: ${text}`)
    assert.ok(rep.oracle.held, text)
    assert.ok(rep.oracle.counters['runs.ok'].exactOps > 0 && rep.oracle.counters.register.exactOps > 0, text)
    assert.equal(rep.finalGcExit, 0, text)
    assert.equal(rep.finalVerifyExit, 0, text)
    assert.deepEqual(rep.debris, [], text)
    assert.equal(rep.finalRunsCorrect, rep.finalRunsTotal, text)
    assert.ok(tortureHeld(rep), text)
  })
})

// Every fault point of FAULT_POINTS, reached: the command stops there (`<point>:stop`), is seen
// stopped in /proc and killed. A point that code no longer reaches (moved, renamed, behind a
// condition the store never meets) fails here, and the torture harness would arm it in vain.
describe('fault points', () => {
  const A = 'module.exports = (x) => ({a: x})\n'
  const gc = ['gc']
  // What each point needs: planted debris or damage (plant.ts), and the command that reaches it.
  type Scenario = {plants?: Plant[]; args: (hash: string) => string[]; fresh?: boolean; env?: Record<string, string>}
  const register: Scenario = {fresh: true, args: () => ['register', 'a.js', '--name', 'a']}
  const scenarios: Record<string, Scenario> = {
    'lock:acquired': register,
    ...Object.fromEntries(
      ['object', 'engines', 'compiled', 'name', 'stats', 'store-json'].flatMap((w) =>
        ['tmp-written', 'tmp-synced', 'renamed'].map((s) => [`${w}:${s}`, register]),
      ),
    ),
    ...Object.fromEntries(['tmp-written', 'tmp-synced', 'renamed'].map((s) => [`stats-totals:${s}`, {args: () => gc}])),
    'register:compiled': register,
    'register:object-written': register,
    'run:settled': {args: (h) => ['run', h, '--input', '1']},
    'run:counted': {args: (h) => ['run', h, '--input', '1']},
    'fold:previous-cleared': {args: () => gc},
    'fold:delta-removed': {args: () => gc},
    ...Object.fromEntries(
      ['forget:locked', 'forget:names-removed', 'forget:compiled-removed', 'forget:source-removed'].map((p) => [
        p,
        {args: (h) => ['forget', h]},
      ]),
    ),
    'removal:locked': {plants: ['orphan-compiled'], args: () => gc},
    'gc:tmp': {plants: ['old-tmp'], args: () => gc},
    'gc:stale-lock': {plants: ['stale-lock'], args: () => gc},
    'gc:dead-daemon': {plants: ['dead-daemon'], args: () => gc},
    'gc:set-aside': {plants: ['set-aside'], args: () => gc},
    'gc:foreign': {plants: ['foreign-compiled'], args: () => gc},
    'gc:orphan': {plants: ['orphan-engines'], args: () => gc},
    'gc:dangling-alias': {plants: ['dangling-name'], args: () => gc},
    'gc:planned': {args: () => ['gc', '--max-size', '1KB']},
    'gc:evicted': {args: () => ['gc', '--max-size', '1KB']},
    'repair:set-aside': {plants: ['bad-name'], args: () => ['verify', '--fix']},
    'repair:fixed': {plants: ['bad-name'], args: () => ['verify', '--fix']},
    // (the only point a daemon reaches: its client waits for it, and is killed with it)
    'daemon:listening': {args: (h) => ['run', h, '--input', '1'], env: {BURN_DAEMON: 'require'}},
  }

  it('the table has a scenario for exactly the points of FAULT_POINTS', () => {
    assert.deepEqual(Object.keys(scenarios).sort(), [...FAULT_POINTS].sort())
  })

  it("each point stops the command that reaches it (direct runs, BURN_DAEMON=off, but for the daemon's own point)", async () => {
    const dir = tmp('burn-points-')
    const base = join(dir, 'base')
    writeFileSync(join(dir, 'a.js'), A)
    const env = {BURN_DAEMON: 'off'}
    const r = burn(['register', 'a.js', '--name', 'a', '--json'], {cacheDir: base, cwd: dir, env})
    assert.equal(r.code, 0, r.stderr)
    const hash = JSON.parse(r.stdout).results[0].hash as string
    const reached = async (point: string, i: number): Promise<string> => {
      const s = scenarios[point]
      const cache = join(dir, `c${i}`)
      if (!s.fresh) cpSync(base, cache, {recursive: true})
      for (const p of s.plants ?? []) assert.ok(plant(cache, p).length > 0, `${point}: nothing planted for ${p}`)
      const fault = `${point}:stop`
      const child = spawn(process.execPath, [BIN, ...s.args(hash)], {
        cwd: dir,
        env: {...process.env, BURN_CACHE_DIR: cache, BURN_FAULT: fault, BURN_DAEMON: 'off', ...s.env},
        stdio: 'ignore',
      })
      const closed = new Promise((res) => child.on('close', res))
      let stopped: string | undefined
      const until = Date.now() + 120_000
      while (!stopped && child.exitCode === null && child.signalCode === null && Date.now() < until) {
        const p = storeProcs(cache, 'T').find((q) => q.fault === fault)
        if (p && kill9(p.pid)) stopped = point
        else await new Promise((res) => setTimeout(res, 20))
      }
      // (a process stopped after the check above, or the child's own children: none may outlive the test)
      killStoreProcs(cache)
      child.kill('SIGKILL')
      await closed
      return stopped ?? `${point} (not reached: ${child.exitCode ?? child.signalCode})`
    }
    const points = [...FAULT_POINTS]
    const got: string[] = new Array(points.length)
    await eachConcurrently(points, 3, async (p, i) => void (got[i] = await reached(p, i)))
    assert.deepEqual(got, points)
  })
})
