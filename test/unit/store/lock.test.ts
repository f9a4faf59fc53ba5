import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {dirname, join} from 'node:path'
import {describe, it} from 'node:test'
import {
  acquireLock,
  breakJudged,
  breakStaleLock,
  Lock,
  lockStaleMs,
  lockWaitMs,
  ownerAlive,
  pidAlive,
  readInfo,
  staleReason,
  withLock,
} from '../../../src/store/lock.js'
import {tmp} from '../../helpers.js'

// One exited process serves every test (a spawn costs about a second on a loaded machine, and
// `npm run mutation` runs this file once per mutant).
let dead: number | undefined
const deadPid = () => (dead ??= Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {encoding: 'utf8'}).stdout))

describe('lock files', () => {
  it('excludes a second owner in the same process until release', async () => {
    const dir = tmp()
    const path = join(dir, 'k.lock')
    const a = await acquireLock(path)
    assert.ok(a instanceof Lock)
    const b = await acquireLock(path, {waitMs: 100})
    assert.deepEqual(b, {timedOut: true})
    await a.release()
    const c = await acquireLock(path, {waitMs: 100})
    assert.ok(c instanceof Lock)
    await c.release()
  })

  it('judges a dead owner stale at once and a live one not', async () => {
    const dir = tmp()
    const path = join(dir, 'd.lock')
    const dead = deadPid()
    writeFileSync(path, JSON.stringify({pid: dead, host: hostname(), token: 't', created: Date.now()}))
    assert.equal(await staleReason(path, 60_000), `owner process ${dead} is gone`)
    writeFileSync(path, JSON.stringify({pid: process.pid, host: hostname(), token: 't', created: Date.now()}))
    assert.equal(await staleReason(path, 60_000), undefined)
  })

  it('withLock holds the lock around fn and releases it after, even when fn throws', async () => {
    const path = join(tmp(), 'w.lock')
    const seen = await withLock(path, {}, async (lock) => [lock instanceof Lock, existsSync(path)])
    assert.deepEqual(seen, [true, true])
    assert.equal(existsSync(path), false)
    await assert.rejects(
      withLock(path, {}, async () => {
        throw new Error('boom')
      }),
      /^Error: boom$/,
    )
    assert.equal(existsSync(path), false)
  })

  it('withLock on a busy lock: busy() answers without running fn; without busy, fn runs without the lock', async () => {
    const path = join(tmp(), 'b.lock')
    const held = await acquireLock(path)
    assert.ok(held instanceof Lock)
    let ran = false
    const r = await withLock(path, {waitMs: 50, busy: () => 'busy'}, async () => {
      ran = true
      return 'ran'
    })
    assert.deepEqual([r, ran], ['busy', false])
    assert.equal(await withLock(path, {waitMs: 50}, async (lock) => (lock === undefined ? 'without' : 'with')), 'without')
    assert.equal(await held.stillOwned(), true)
    await held.release()
  })

  it('reads the lock timeout defaults from the environment, in one place', () => {
    const saved = [process.env.BURN_LOCK_WAIT_MS, process.env.BURN_LOCK_STALE_MS]
    try {
      delete process.env.BURN_LOCK_WAIT_MS
      delete process.env.BURN_LOCK_STALE_MS
      assert.deepEqual([lockWaitMs(), lockStaleMs()], [60_000, 10_000])
      process.env.BURN_LOCK_WAIT_MS = '300'
      process.env.BURN_LOCK_STALE_MS = 'soon'
      assert.deepEqual([lockWaitMs(), lockStaleMs()], [300, 10_000])
    } finally {
      for (const [k, v] of [
        ['BURN_LOCK_WAIT_MS', saved[0]],
        ['BURN_LOCK_STALE_MS', saved[1]],
      ] as const) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    }
  })
})

describe('lock files: owner records, staleness and breaking', () => {
  const record = (path: string, info: Record<string, unknown>, ageMs = 0) => {
    writeFileSync(path, JSON.stringify(info))
    const then = new Date(Date.now() - ageMs)
    utimesSync(path, then, then)
  }

  it('writes its owner record, private, in a private directory it makes', async () => {
    const dir = join(tmp(), 'a', 'b')
    const path = join(dir, 'k.lock')
    const before = Date.now()
    const lock = await acquireLock(path)
    assert.ok(lock instanceof Lock)
    assert.equal(lock.waited, false)
    assert.equal(lock.path, path)
    const info = await readInfo(path)
    assert.deepEqual(Object.keys(info!), ['pid', 'host', 'token', 'created'])
    assert.deepEqual([info!.pid, info!.host, info!.token], [process.pid, hostname(), lock.token])
    assert.match(lock.token, /^[0-9a-f]{24}$/)
    assert.ok(info!.created >= before && info!.created <= Date.now())
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    await lock.release()
    assert.deepEqual(readdirSync(dir), [])
  })

  it('with makeDir off, a missing directory is an ENOENT', async () => {
    await assert.rejects(acquireLock(join(tmp(), 'missing', 'k.lock'), {makeDir: false}), {code: 'ENOENT'})
  })

  it('takes over a dead owner at once, and says when it waited for a live one', async () => {
    const path = join(tmp(), 'k.lock')
    record(path, {pid: deadPid(), host: hostname(), token: 'dead', created: 0})
    const a = await acquireLock(path, {waitMs: 0})
    assert.ok(a instanceof Lock)
    assert.equal(a.waited, false)
    setTimeout(() => a.release(), 100)
    const b = await acquireLock(path, {waitMs: 20_000})
    assert.ok(b instanceof Lock)
    assert.equal(b.waited, true)
    await b.release()
  })

  it('a live lock times out at once with no wait', async () => {
    const path = join(tmp(), 'k.lock')
    const held = await acquireLock(path)
    assert.ok(held instanceof Lock)
    assert.deepEqual(await acquireLock(path, {waitMs: 0}), {timedOut: true})
    await held.release()
  })

  it('a heartbeat keeps the lock file fresh', async () => {
    const path = join(tmp(), 'k.lock')
    const held = await acquireLock(path)
    assert.ok(held instanceof Lock)
    const old = new Date(Date.now() - 60_000)
    utimesSync(path, old, old)
    // the beat is every 500 ms: within 5 s the file must have been touched
    const fresh = () => Date.now() - statSync(path).mtimeMs < 5000
    for (let i = 0; i < 50 && !fresh(); i++) await new Promise((r) => setTimeout(r, 100))
    assert.ok(fresh())
    await held.release()
  })

  it('release leaves a lock that is no longer its own', async () => {
    const path = join(tmp(), 'k.lock')
    const held = await acquireLock(path)
    assert.ok(held instanceof Lock)
    record(path, {pid: process.pid, host: hostname(), token: 'newer', created: 0})
    assert.equal(await held.stillOwned(), false)
    await held.release()
    assert.equal((await readInfo(path))?.token, 'newer')
  })

  it('release and stillOwned survive a lock file that is gone', async () => {
    const path = join(tmp(), 'k.lock')
    const held = await acquireLock(path)
    assert.ok(held instanceof Lock)
    rmSync(path)
    assert.equal(await held.stillOwned(), false)
    await held.release()
    assert.equal(existsSync(path), false)
  })

  it('a given staleMs judges the holder, not the default', async () => {
    const path = join(tmp(), 'k.lock')
    record(path, {pid: process.pid, host: hostname(), token: 'slow', created: 0}, 3000)
    assert.deepEqual(await acquireLock(path, {waitMs: 0}), {timedOut: true})
    const lock = await acquireLock(path, {waitMs: 0, staleMs: 1000})
    assert.ok(lock instanceof Lock)
    await lock.release()
  })

  it('reads an owner record only when it has a token', async () => {
    const path = join(tmp(), 'k.lock')
    assert.equal(await readInfo(path), undefined)
    writeFileSync(path, '{"pid":1}')
    assert.equal(await readInfo(path), undefined)
    writeFileSync(path, 'not json')
    assert.equal(await readInfo(path), undefined)
    writeFileSync(path, '{"token":"t"}')
    assert.deepEqual(await readInfo(path), {token: 't'})
  })

  it('judges owners and PIDs', () => {
    assert.equal(pidAlive(process.pid), true)
    for (const pid of [0, -1, 1.5, NaN, deadPid()]) assert.equal(pidAlive(pid), false, String(pid))
    assert.equal(ownerAlive({pid: process.pid, host: hostname(), token: 't', created: 0}), true)
    assert.equal(ownerAlive({pid: process.pid, host: `not-${hostname()}`, token: 't', created: 0}), false)
    assert.equal(ownerAlive({pid: deadPid(), host: hostname(), token: 't', created: 0}), false)
  })

  it('says why a lock is stale, and nothing while it lives', async () => {
    const path = join(tmp(), 'k.lock')
    assert.equal(await staleReason(path, 10_000), undefined)
    writeFileSync(path, '')
    assert.equal(await staleReason(path, 10_000), undefined)
    record(path, {}, 3000)
    assert.equal(await staleReason(path, 10_000), 'lock file has no owner record')
    record(path, {}, 1500)
    assert.equal(await staleReason(path, 10_000), undefined)
    assert.equal(await staleReason(path, 1000), 'lock file has no owner record')
    record(path, {pid: process.pid, host: hostname(), token: 't', created: 0}, 30_000)
    const reason = await staleReason(path, 10_000)
    assert.match(reason!, /^heartbeat stopped \d+ ms ago$/)
    const age = Number(/\d+/.exec(reason!)![0])
    assert.ok(age >= 30_000 && age < 40_000, reason)
    assert.equal(await staleReason(path, 60_000), undefined)
    // another host's owner is judged by its heartbeat only
    record(path, {pid: deadPid(), host: `not-${hostname()}`, token: 't', created: 0})
    assert.equal(await staleReason(path, 10_000), undefined)
  })

  it('breakStaleLock breaks only a stale lock, and says why', async () => {
    const path = join(tmp(), 'k.lock')
    assert.equal(await breakStaleLock(path, 10_000), undefined)
    record(path, {pid: process.pid, host: hostname(), token: 't', created: 0})
    assert.equal(await breakStaleLock(path, 10_000), undefined)
    assert.equal(existsSync(path), true)
    record(path, {pid: deadPid(), host: hostname(), token: 't', created: 0})
    assert.equal(await breakStaleLock(path, 10_000), `owner process ${deadPid()} is gone`)
    assert.deepEqual(readdirSync(dirname(path)), [])
  })

  it('breakJudged removes the lock judged, puts back a newer one, and leaves no debris', async () => {
    const path = join(tmp(), 'k.lock')
    const judged = {pid: 1, host: 'h', token: 'old', created: 0}
    assert.equal(await breakJudged(path, judged), false)
    record(path, judged)
    assert.equal(await breakJudged(path, judged), true)
    assert.deepEqual(readdirSync(dirname(path)), [])
    record(path, {...judged, token: 'newer'})
    assert.equal(await breakJudged(path, judged), true)
    assert.equal((await readInfo(path))?.token, 'newer')
    assert.deepEqual(readdirSync(dirname(path)), ['k.lock'])
    assert.equal(await breakJudged(path, undefined), true)
    assert.deepEqual(readdirSync(dirname(path)), [])
  })

  it('a negative or unreadable environment value falls back; zero is a value', () => {
    const saved = process.env.BURN_LOCK_WAIT_MS
    const savedStale = process.env.BURN_LOCK_STALE_MS
    try {
      process.env.BURN_LOCK_WAIT_MS = '-1'
      assert.equal(lockWaitMs(), 60_000)
      process.env.BURN_LOCK_WAIT_MS = '0'
      assert.equal(lockWaitMs(), 0)
      process.env.BURN_LOCK_WAIT_MS = 'Infinity'
      assert.equal(lockWaitMs(), 60_000)
      process.env.BURN_LOCK_STALE_MS = '1234'
      assert.equal(lockStaleMs(), 1234)
    } finally {
      if (saved === undefined) delete process.env.BURN_LOCK_WAIT_MS
      else process.env.BURN_LOCK_WAIT_MS = saved
      if (savedStale === undefined) delete process.env.BURN_LOCK_STALE_MS
      else process.env.BURN_LOCK_STALE_MS = savedStale
    }
  })

  it('withLock runs fn with the lock when it gets it, never busy()', async () => {
    const path = join(tmp(), 'w.lock')
    const r = await withLock(path, {busy: () => assert.fail('busy')}, async (lock) => (lock instanceof Lock ? 'locked' : 'not'))
    assert.equal(r, 'locked')
  })
})
