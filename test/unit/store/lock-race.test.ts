import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {tmp} from '../../helpers.js'

// Apart from lock.test.ts because it spawns 8 processes: `npm run mutation` runs lock.test.ts
// once per mutant and leaves this one to `npm test`.
const LOCK_JS = fileURLToPath(new URL('../../../src/store/lock.js', import.meta.url))

describe('lock files', () => {
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
})
