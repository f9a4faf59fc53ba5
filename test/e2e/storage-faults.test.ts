import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {engineTag} from '../../src/engines/tag.js'
import {assertNoDebris, filesUnder, sha} from '../fixtures/store.js'
import {burn, json, register, removeTree, startBurn, tmp, waitStopped, writeScript} from '../helpers.js'

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

  it('a first command killed while it creates the store leaves one the next command opens (never "store.json is missing")', () => {
    for (const point of ['store-json:tmp-written', 'store-json:tmp-synced', 'store-json:renamed']) {
      const cacheDir = join(tmp(), 'cache')
      const killed = burn(['register', file], {cacheDir, env: {BURN_FAULT: point, BURN_DAEMON: 'off'}})
      assert.equal(killed.signal, 'SIGKILL', point)
      // a plain open (no create): an empty store, so a plain miss
      const run = burn(['run', 'f', '--input', '1'], {cacheDir, env: {BURN_DAEMON: 'off'}})
      assert.deepEqual(
        [run.code, run.stderr.split('\n')[0]],
        [3, 'Error: no script matches "f"; `burn list` shows what is registered, `burn register <file>` adds one'],
        point,
      )
      register(cacheDir, file, ['--name', 'f'])
      const again = burn(['run', 'f', '--input', '1'], {cacheDir, env: {BURN_DAEMON: 'off'}})
      assert.deepEqual([again.code, again.stdout], [0, '{"f":1}\n'], point)
      const v = burn(['verify'], {cacheDir})
      assert.equal(v.code, 0, `${point}: ${v.stdout}${v.stderr}`)
    }
  })

  it('a copied store keeps working (no absolute paths inside)', () => {
    const cache = tmp()
    const hash = register(cache, file, ['--name', 'cp'])
    const copy = join(tmp(), 'copy')
    cpSync(cache, copy, {recursive: true})
    assert.deepEqual(json(burn(['run', 'cp', '--input', '4', '--json'], {cacheDir: copy})), {hash, cache: 'hit', result: {f: 4}})
  })
})

// BURN_FAULT_ENOSPC=<label> fails a write part-way, as a disk that fills up mid-write: half of its
// bytes reach the file, then ENOSPC. BURN_FAULT=<label>:partial:stop stops burn right between the
// two, so each test sees the partial file on disk before the clean-up, then lets burn go on.
const FULL = 'ENOSPC: no space left on device (injected by BURN_FAULT_ENOSPC)'
const half = (b: string | Buffer) => Buffer.from(b).subarray(0, Math.floor(Buffer.byteLength(b) / 2))

describe('a disk that fills up part-way through a write (BURN_FAULT_ENOSPC)', () => {
  const dir = tmp()
  // long enough that half of it is plainly a part
  const source = `module.exports = (x) => ({partial: x, pad: ${JSON.stringify('p'.repeat(600))}.length})\n`
  const file = writeScript(dir, 'partial.js', source)
  const hash = sha(source)
  const lockRecord = (pid: number) => `{"pid":${pid},"host":${JSON.stringify(hostname())},"token":"`

  /** What the stopped register has on disk for each writer: the file, and a check of its bytes. */
  const partials: Record<string, (cache: string, pid: number) => void> = {
    lock(cache, pid) {
      const [lock] = filesUnder(join(cache, 'pending'))
      assert.equal(lock, `${hash}.${TAG}.lock`)
      const text = readFileSync(join(cache, 'pending', lock), 'utf8')
      // {"pid":..,"host":..,"token":"<24 hex>","created":<13 digits>}: half of it, the start of it
      assert.equal(text.length, Math.floor((lockRecord(pid).length + 24 + '","created":'.length + 13 + 1) / 2))
      assert.ok(
        lockRecord(pid).startsWith(text) || (text.startsWith(lockRecord(pid)) && /^[0-9a-f]*$/.test(text.slice(lockRecord(pid).length))),
      )
    },
    engines: (cache) => assert.deepEqual(readTmp(cache, 'engines'), half('["v8"]\n')),
    object: (cache) => assert.deepEqual(readTmp(cache, 'object'), half(source)),
    compiled(cache) {
      const bytes = readTmp(cache, 'compiled')
      assert.ok(bytes.length > 8, `${bytes.length} bytes`)
      assert.equal(bytes.subarray(0, 8).toString('latin1'), 'BURNCC1\n')
    },
    name: (cache) => assert.deepEqual(readTmp(cache, 'name'), half(hash + '\n')),
  }

  /** The one tmp file of `label`'s write in the store's tmp/. */
  function readTmp(cache: string, label: string): Buffer {
    const files = filesUnder(join(cache, 'tmp'))
    assert.equal(files.length, 1, files.join(' '))
    assert.match(files[0], new RegExp(`^${label}\\.\\d+\\.[0-9a-f]{12}\\.tmp$`))
    return readFileSync(join(cache, 'tmp', files[0]))
  }

  for (const [label, check] of Object.entries(partials)) {
    it(`register, full at its ${label} write: exit 8, the partial file removed, the store verifies clean and keeps working`, async () => {
      const cache = tmp()
      register(cache, writeScript(dir, 'warm.js', 'module.exports = 0\n'))
      const p = startBurn(['register', file, '--name', 'part'], {
        cacheDir: cache,
        env: {BURN_FAULT_ENOSPC: label, BURN_FAULT: `${label}:partial:stop`},
      })
      try {
        if (!(await waitStopped(p.pid))) assert.fail(`register did not stop at ${label}:partial: ${(await p.done).stderr}`)
        check(cache, p.pid)
      } finally {
        p.resume()
      }
      const r = await p.done
      assert.equal(r.stderr, `Error: store problem: ${FULL}\n`)
      assert.equal(r.code, 8)
      assert.equal(r.stdout, '')
      assertNoDebris(cache)
      assert.equal(burn(['run', 'part'], {cacheDir: cache}).code, 3, 'the name was not written')
      const again = burn(['register', file, '--name', 'part', '--json'], {cacheDir: cache})
      assert.equal(again.code, 0, again.stderr)
      assert.equal(burn(['run', 'part', '--input', '1'], {cacheDir: cache}).stdout, '{"partial":1,"pad":600}\n')
      assertNoDebris(cache)
    })
  }

  it('batch --output, full part-way: exit 7 naming the file, no output file or tmp file left, an older file kept', async () => {
    const cache = tmp()
    register(cache, writeScript(dir, 'id.js', 'module.exports = (rows) => rows.map((r) => ({row: r}))\n'), ['--name', 'id'])
    const work = tmp()
    const rows = Array.from({length: 500}, (_, i) => i)
    const input = writeScript(work, 'rows.ndjson', rows.map(String).join('\n') + '\n')
    const out = join(work, 'out.json')
    writeFileSync(out, 'older\n')
    const p = startBurn(['batch', 'id', '-f', input, '-o', out, '--output-format', 'json', '--chunk-size', '50', '-c', '1'], {
      cacheDir: cache,
      env: {BURN_FAULT_ENOSPC: 'output', BURN_FAULT: 'output:partial:stop'},
    })
    try {
      if (!(await waitStopped(p.pid))) assert.fail(`batch did not stop at output:partial: ${(await p.done).stderr}`)
      const hidden = filesUnder(work).filter((f) => f.startsWith('.'))
      assert.equal(hidden.length, 1, hidden.join(' '))
      assert.match(hidden[0], new RegExp(`^\\.out\\.json\\.burn-${p.pid}-[0-9a-f]{8}\\.tmp$`))
      const part = readFileSync(join(work, hidden[0]), 'utf8')
      assert.ok(part.length > 0)
      assert.ok(JSON.stringify(rows.map((r) => ({row: r}))).startsWith(part), part)
    } finally {
      p.resume()
    }
    const r = await p.done
    assert.equal(r.stderr, `Error: cannot write --output ${out}: ${FULL}\n`)
    assert.equal(r.code, 7)
    assert.equal(r.stdout, '')
    assert.deepEqual(filesUnder(work), ['out.json', 'rows.ndjson'])
    assert.equal(readFileSync(out, 'utf8'), 'older\n')
    assertNoDebris(cache)
  })

  it('BURN_FAULT_ENOSPC=1, every write full: register exit 8 at its first write (the lock), nothing left', () => {
    const cache = tmp()
    register(cache, writeScript(dir, 'warm.js', 'module.exports = 0\n'))
    const r = burn(['register', file, '--name', 'part'], {cacheDir: cache, env: {BURN_FAULT_ENOSPC: '1'}})
    assert.equal(r.stderr, `Error: store problem: ${FULL}\n`)
    assert.equal(r.code, 8)
    assertNoDebris(cache)
    assert.deepEqual(
      filesUnder(join(cache, 'objects')).filter((f) => f.endsWith(hash)),
      [],
    )
  })
})
