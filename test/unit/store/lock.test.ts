import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {acquireLock, Lock, lockStaleMs, lockWaitMs, staleReason, withLock} from '../../../src/store/lock.js'
import {tmp} from '../../helpers.js'

const LOCK_JS = fileURLToPath(new URL('../../../src/store/lock.js', import.meta.url))

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
    const dead = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {encoding: 'utf8'}).stdout)
    writeFileSync(path, JSON.stringify({pid: dead, host: hostname(), token: 't', created: Date.now()}))
    assert.equal(await staleReason(path, 60_000), `owner process ${dead} is gone`)
    writeFileSync(path, JSON.stringify({pid: process.pid, host: hostname(), token: 't', created: Date.now()}))
    assert.equal(await staleReason(path, 60_000), undefined)
  })

  it('8 processes breaking the same stale lock at once: never two owners at a time', async () => {
    const dir = tmp()
    const path = join(dir, 's.lock')
    const marker = join(dir, 'owner')
    const dead = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {encoding: 'utf8'}).stdout)
    writeFileSync(path, JSON.stringify({pid: dead, host: hostname(), token: 'stale', created: 0}))
    // Each process takes the lock 5 times; while it holds it, it owns an O_EXCL marker file.
    const code = `
      const {acquireLock} = await import(${JSON.stringify(LOCK_JS)})
      const fs = await import('node:fs')
      for (let i = 0; i < 5; i++) {
        const l = await acquireLock(${JSON.stringify(path)}, {waitMs: 60000})
        if (!l.release) { console.log('timeout'); process.exit(3) }
        try { fs.writeFileSync(${JSON.stringify(marker)}, String(process.pid), {flag: 'wx'}) } catch { console.log('TWO OWNERS'); process.exit(2) }
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 10))
        fs.rmSync(${JSON.stringify(marker)})
        await l.release()
      }`
    const codes = await Promise.all(
      Array.from(
        {length: 8},
        () =>
          new Promise<number | null>((resolve) => {
            const c = spawn(process.execPath, ['--input-type=module', '-e', code], {stdio: 'inherit'})
            c.on('exit', resolve)
          }),
      ),
    )
    assert.deepEqual(codes, Array(8).fill(0))
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
