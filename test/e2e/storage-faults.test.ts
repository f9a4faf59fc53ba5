import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {engineTag} from '../../src/engines/tag.js'
import {burn, json, register, removeTree, tmp, writeScript} from '../helpers.js'

// Storage faults give a clear exit 8 (or 3 where it is a plain miss), never a wrong result and
// never a write outside the store. Real mounts where the machine allows them (root in a sandbox).
const TAG = engineTag('v8')

/** A fresh tmpfs of its own, unmounted and removed when the file ends; undefined if not permitted. */
function mountTmpfs(opts: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'burn-mnt-'))
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir])
  if (r.status !== 0) {
    rmSync(dir, {recursive: true, force: true})
    return undefined
  }
  after(() => {
    spawnSync('umount', ['-l', dir])
    removeTree(dir)
  })
  return dir
}

const canMount = mountTmpfs('size=1m') !== undefined

describe('storage faults', () => {
  const dir = tmp()
  const file = writeScript(dir, 'f.js', 'module.exports = (x) => ({f: x})\n')

  it(
    'a read-only cache directory: register exit 8, run still answers from it',
    {skip: canMount ? false : 'mount not permitted here'},
    () => {
      const mnt = mountTmpfs('size=8m')!
      const cache = join(mnt, 'cache')
      const hash = register(cache, file)
      assert.equal(spawnSync('mount', ['-o', 'remount,ro', mnt]).status, 0)
      const r = burn(['register', writeScript(dir, 'g.js', 'module.exports = 2\n')], {cacheDir: cache})
      assert.equal(r.code, 8, r.stderr)
      assert.match(r.stderr, /^Error: store problem: EROFS: read-only file system/)
      const run = burn(['run', hash, '--input', '1'], {cacheDir: cache})
      assert.equal(run.code, 0, run.stderr)
      assert.equal(run.stdout, '{"f":1}\n')
    },
  )

  it(
    'a full filesystem: exit 8, nothing half-written, and the store keeps working after space returns',
    {skip: canMount ? false : 'mount not permitted here'},
    () => {
      const mnt = mountTmpfs('size=1m')!
      const cache = join(mnt, 'cache')
      const hash = register(cache, file)
      writeFileSync(join(mnt, 'filler'), Buffer.alloc(0))
      // fill the disk to the last byte
      spawnSync('sh', ['-c', `cat /dev/zero > ${join(mnt, 'filler')} 2>/dev/null`])
      const big = writeScript(dir, 'big.js', `module.exports = ${JSON.stringify('z'.repeat(200_000))}.length\n`)
      const r = burn(['register', big], {cacheDir: cache})
      assert.equal(r.code, 8, r.stderr)
      assert.match(r.stderr, /ENOSPC/)
      assert.equal(burn(['run', hash, '--input', '2'], {cacheDir: cache}).stdout, '{"f":2}\n')
      rmSync(join(mnt, 'filler'))
      const again = burn(['register', big, '--json'], {cacheDir: cache})
      assert.equal(again.code, 0, again.stderr)
      assert.equal(burn(['run', json(again).results[0].hash], {cacheDir: cache}).stdout, '200000\n')
    },
  )

  it('a compiled form replaced by a directory: a miss, recompiled, correct', () => {
    const cache = tmp()
    const hash = register(cache, file)
    const p = join(cache, 'compiled', TAG, hash.slice(0, 2), hash)
    rmSync(p)
    mkdirSync(p)
    const r = burn(['run', hash, '--input', '3'], {cacheDir: cache})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '{"f":3}\n')
  })

  it('a source replaced by a symlink to a file outside: refused with exit 8, the outside file untouched', () => {
    const cache = tmp()
    const hash = register(cache, file)
    const outside = writeScript(tmp(), 'outside.js', 'module.exports = "outside"\n')
    const p = join(cache, 'objects', hash.slice(0, 2), hash)
    rmSync(p)
    symlinkSync(outside, p)
    rmSync(join(cache, 'compiled', TAG, hash.slice(0, 2), hash))
    const r = burn(['run', hash], {cacheDir: cache})
    assert.equal(r.code, 8, r.stdout + r.stderr)
    assert.equal(r.stdout, '')
    assert.equal(readFileSync(outside, 'utf8'), 'module.exports = "outside"\n')
  })

  it('a store directory replaced by a symlink out of the store: exit 8, nothing written outside', () => {
    const cache = tmp()
    register(cache, file)
    const outside = tmp()
    rmSync(join(cache, 'tmp'), {recursive: true})
    symlinkSync(outside, join(cache, 'tmp'))
    const r = burn(['register', writeScript(dir, 'h.js', 'module.exports = 3\n')], {cacheDir: cache})
    assert.equal(r.code, 8)
    assert.match(r.stderr, /tmp is a symbolic link; burn does not follow links out of its store/)
    assert.equal(spawnSync('ls', ['-A', outside], {encoding: 'utf8'}).stdout, '')
  })

  it('a shard directory replaced by a symlink: the write is refused, nothing lands outside', () => {
    const cache = tmp()
    register(cache, file)
    const src = 'module.exports = "sharded"\n'
    const f2 = writeScript(dir, 'sh.js', src)
    const h = createHash('sha256').update(src).digest('hex')
    const outside = tmp()
    const shard = join(cache, 'objects', h.slice(0, 2))
    if (existsSync(shard)) renameSync(shard, shard + '.moved')
    symlinkSync(outside, shard)
    const r = burn(['register', f2], {cacheDir: cache})
    assert.equal(r.code, 8, r.stderr)
    assert.equal(spawnSync('ls', ['-A', outside], {encoding: 'utf8'}).stdout, '')
  })

  it('an alias replaced by a symlink to a file outside: exit 8, not a wrong script', () => {
    const cache = tmp()
    register(cache, file, ['--name', 'al'])
    const outside = writeScript(tmp(), 'passwd', 'root:x:0:0:root:/root:/bin/bash\n')
    rmSync(join(cache, 'names', 'al'))
    symlinkSync(outside, join(cache, 'names', 'al'))
    const r = burn(['run', 'al'], {cacheDir: cache})
    assert.equal(r.code, 8)
    assert.match(r.stderr, /^Error: name al in the store is damaged/)
  })

  it('a copied store keeps working (no absolute paths inside)', () => {
    const cache = tmp()
    const hash = register(cache, file, ['--name', 'cp'])
    const copy = join(tmp(), 'copy')
    cpSync(cache, copy, {recursive: true})
    assert.deepEqual(json(burn(['run', 'cp', '--input', '4', '--json'], {cacheDir: copy})), {hash, cache: 'hit', result: {f: 4}})
  })
})
