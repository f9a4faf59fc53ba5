import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, test} from 'node:test'
import {engineTag} from '../../src/engines/tag.js'
import {burn, json, register, removeTree, tmp, writeScript, type Result} from '../helpers.js'

// The store's trust boundary (issue 11): another user's or a writable cache dir or store
// directory is refused, no store file is followed through a symlink, and a FIFO anywhere in the
// store never hangs a command (each spawn has a deadline far below the test's own).
const TAG = engineTag('v8')
const NOBODY = 65534
const isRoot = process.getuid?.() === 0
const asRootOnly = isRoot ? false : 'needs root to play a second user (uid 65534) with setpriv'
const SPAWN_MS = 15_000

const sha = (s: string) => createHash('sha256').update(s).digest('hex')

/** A command, as another user (uid 65534), through sh. */
function asNobody(script: string, input = ''): void {
  const r = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', 'sh', '-ec', script], {
    input,
    encoding: 'utf8',
  })
  assert.equal(r.status, 0, `as uid ${NOBODY}: ${script}\n${r.stderr}`)
}

/** A directory under /tmp (mode 1777) made by uid 65534 with mode 0777, as in the report. */
function nobodysDir(): string {
  const dir = join(tmpdir(), `burn-shared-${process.pid}-${Math.random().toString(16).slice(2)}`)
  asNobody(`mkdir -m 0777 '${dir}'`)
  after(() => removeTree(dir))
  return dir
}

function done(r: Result, what: string): Result {
  assert.equal(r.signal, null, `${what} hung: killed after ${SPAWN_MS} ms\n${r.stderr}`)
  return r
}

const run = (args: string[], cacheDir: string, env?: Record<string, string>) =>
  done(burn(args, {cacheDir, timeoutMs: SPAWN_MS, env}), `burn ${args.join(' ')}`)

function refused(r: Result, message: string): void {
  assert.equal(r.stderr, `Error: ${message}\n`, r.stdout)
  assert.equal(r.code, 8)
  assert.equal(r.stdout, '')
}

const ownedBy = (dir: string, uid: number) =>
  `${dir} is owned by uid ${uid}, not by you (uid 0): its owner decides what burn would run; pass another --cache-dir (or, if it is yours, \`chown -R 0 ${dir}\`)`
const writable = (dir: string, who: string, mode: string) =>
  `${dir} is writable by ${who} (mode ${mode}): they could plant scripts you would run; \`chmod 700 ${dir}\` if nobody else wrote into it, or pass another --cache-dir`
const symlinked = (dir: string) =>
  `${dir} is a symbolic link; burn does not follow links out of its store: remove it or pass another --cache-dir`

describe('store ownership and privacy', () => {
  const work = tmp()
  const script = writeScript(work, 't.js', 'module.exports = (x) => ({t: x})\n')

  test(
    'the planted-name attack: a cache dir another user made (0777) is refused by register and run, and their script never runs',
    {skip: asRootOnly},
    () => {
      const shared = nobodysDir()
      const registered = run(['register', script, '--name', 'transform'], shared)
      // The other user plants a whole store of their own, with names/transform -> their script
      // (under its real SHA-256), moving aside whatever was there.
      const evil = 'module.exports = () => { require("fs").writeFileSync(process.env.MARK, "ran"); return "planted" }\n'
      const h = sha(evil)
      asNobody(
        `cd '${shared}'; for d in names objects store.json; do if [ -e $d ]; then mv $d $d.aside; fi; done
      printf '{"format":1}\\n' > store.json; mkdir -p names objects/${h.slice(0, 2)}
      cat > objects/${h.slice(0, 2)}/${h}; printf '${h}\\n' > names/transform`,
        evil,
      )
      const mark = join(work, 'mark')
      const r = run(['run', 'transform', '--input', '1'], shared, {MARK: mark})
      refused(r, `the cache directory ${ownedBy(shared, NOBODY)}`)
      assert.equal(existsSync(mark), false, "the other user's script ran")
      refused(registered, `the cache directory ${ownedBy(shared, NOBODY)}`)
    },
  )

  test('a cache dir of our own that group and others can write (0777) is refused; 0755 is accepted', () => {
    const cache = join(tmp(), 'cache')
    mkdirSync(cache, {mode: 0o755})
    chmodSync(cache, 0o755)
    register(cache, script, ['--name', 't'])
    assert.equal(run(['run', 't', '--input', '2'], cache).stdout, '{"t":2}\n')
    chmodSync(cache, 0o777)
    for (const args of [['register', script], ['run', 't'], ['list'], ['verify']]) {
      refused(run(args, cache), `the cache directory ${writable(cache, 'group and others', '0777')}`)
    }
  })

  test("a store directory that is writable by group, or another user's, is refused naming it", {skip: asRootOnly}, () => {
    const cache = tmp()
    const hash = register(cache, script, ['--name', 't'])
    chmodSync(join(cache, 'names'), 0o770)
    for (const args of [['run', 't'], ['list'], ['register', script], ['gc'], ['stats']])
      refused(run(args, cache), writable(join(cache, 'names'), 'group', '0770'))
    chmodSync(join(cache, 'names'), 0o700)
    chownSync(join(cache, 'objects'), NOBODY, NOBODY)
    refused(run(['run', 't'], cache), ownedBy(join(cache, 'objects'), NOBODY))
    chownSync(join(cache, 'objects'), 0, 0)
    // A tag or shard directory is checked when a script is reached through it.
    chownSync(join(cache, 'compiled', TAG), NOBODY, NOBODY)
    refused(run(['run', hash], cache), ownedBy(join(cache, 'compiled', TAG), NOBODY))
    refused(run(['forget', 't'], cache), ownedBy(join(cache, 'compiled', TAG), NOBODY))
    chownSync(join(cache, 'compiled', TAG), 0, 0)
    chmodSync(join(cache, 'objects', hash.slice(0, 2)), 0o777)
    refused(run(['run', 't'], cache), writable(join(cache, 'objects', hash.slice(0, 2)), 'group and others', '0777'))
    chmodSync(join(cache, 'objects', hash.slice(0, 2)), 0o700)
    assert.equal(run(['run', 't', '--input', '3'], cache).stdout, '{"t":3}\n')
  })

  test('a store directory replaced by a symlink (daemon/ too) is refused naming it, and nothing outside is touched', () => {
    const cache = tmp()
    const hash = register(cache, script, ['--name', 't'])
    const outside = tmp()
    writeFileSync(join(outside, 'Cargo.lock'), 'keep me\n')
    rmSync(join(cache, 'daemon'), {recursive: true, force: true})
    symlinkSync(outside, join(cache, 'daemon'))
    for (const args of [['list'], ['register', script], ['gc'], ['stats'], ['forget', 't']])
      refused(run(args, cache), symlinked(join(cache, 'daemon')))
    refused(run(['run', 't'], cache, {BURN_DAEMON: 'off'}), symlinked(join(cache, 'daemon')))
    assert.deepEqual(readdirSync(outside), ['Cargo.lock'])
    rmSync(join(cache, 'daemon'))

    const shard = join(cache, 'compiled', TAG, hash.slice(0, 2))
    renameSync(shard, join(outside, 'shard'))
    symlinkSync(join(outside, 'shard'), shard)
    refused(run(['run', 't'], cache, {BURN_DAEMON: 'off'}), symlinked(shard))
    refused(run(['register', script], cache), symlinked(shard))
    assert.deepEqual(readdirSync(join(outside, 'shard')), [hash])
  })
})

describe('a FIFO anywhere in the store never hangs a command', () => {
  const work = tmp()
  const script = writeScript(work, 'f.js', 'module.exports = (x) => ({f: x})\n')

  function store(): {cache: string; hash: string} {
    const cache = tmp()
    const hash = register(cache, script, ['--name', 'f'])
    return {cache, hash}
  }

  function fifo(path: string): void {
    rmSync(path, {force: true})
    assert.equal(spawnSync('mkfifo', [path]).status, 0)
  }

  function repairs(cache: string, kinds: string[]): void {
    const before = run(['verify', '--json'], cache)
    assert.equal(before.code, 8, before.stdout)
    assert.deepEqual(
      json(before)
        .problems.map((p: {kind: string}) => p.kind)
        .sort(),
      [...kinds].sort(),
    )
    const fixed = run(['verify', '--fix', '--json'], cache)
    assert.equal(fixed.code, 0, fixed.stdout)
    assert.equal(json(fixed).clean, true)
    const after = run(['verify', '--json'], cache)
    assert.equal(after.code, 0, after.stdout)
    assert.deepEqual(json(after).problems, [])
    assert.equal(run(['gc'], cache).code, 0)
  }

  test('at names/<n>: run and forget exit 8, list leaves it out; verify --fix repairs it', () => {
    const {cache, hash} = store()
    const p = join(cache, 'names', 'f')
    fifo(p)
    const damaged = `name f in the store is damaged (${p} is a FIFO, not a regular file); run \`burn verify --fix\``
    refused(run(['run', 'f'], cache), damaged)
    refused(run(['forget', 'f'], cache), damaged)
    const list = run(['list', '--json'], cache)
    assert.equal(list.code, 0, list.stderr)
    assert.deepEqual(
      json(list).scripts.map((s: {hash: string; names: string[]}) => [s.hash, s.names]),
      [[hash, []]],
    )
    repairs(cache, ['bad-alias'])
    assert.equal(run(['run', hash, '--input', '1'], cache).stdout, '{"f":1}\n')
  })

  test('at store.json: every command exits 8, verify --fix rewrites it', () => {
    const {cache} = store()
    fifo(join(cache, 'store.json'))
    const damaged = `store.json in ${cache} is damaged (${join(cache, 'store.json')} is a FIFO, not a regular file); run \`burn verify --fix\``
    for (const args of [['run', 'f'], ['register', script], ['list'], ['stats'], ['gc'], ['forget', 'f'], ['show', 'f']])
      refused(run(args, cache), damaged)
    repairs(cache, ['store-json'])
    assert.equal(run(['run', 'f', '--input', '2'], cache).stdout, '{"f":2}\n')
  })

  test('at a stats file: stats, list, gc and run answer; verify --fix sets it aside', () => {
    const {cache} = store()
    fifo(join(cache, 'stats', 'd-1-2-3.json'))
    for (const args of [['stats'], ['list'], ['run', 'f', '--input', '3']]) assert.equal(run(args, cache).code, 0, args.join(' '))
    repairs(cache, ['stats-bad'])
  })

  test('at a compiled form: run is a clean miss (set aside as corrupt) and register compiles again, no lock left behind', () => {
    const {cache, hash} = store()
    const p = join(cache, 'compiled', TAG, hash.slice(0, 2), hash)
    fifo(p)
    assert.deepEqual(json(run(['run', 'f', '--input', '4', '--json'], cache, {BURN_DAEMON: 'off'})), {
      hash,
      cache: 'corrupt',
      result: {f: 4},
    })
    fifo(p)
    const r = run(['register', script, '--json'], cache)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(json(r).results[0].status, 'compiled')
    assert.deepEqual(
      readdirSync(join(cache, 'pending')).filter((n) => n.endsWith('.lock')),
      [],
    )
    assert.deepEqual(json(run(['run', 'f', '--input', '5', '--json'], cache, {BURN_DAEMON: 'off'})), {hash, cache: 'hit', result: {f: 5}})
    const v = run(['verify', '--json'], cache)
    assert.deepEqual(json(v).problems, [])
  })

  test('at an engines record: run exits 8 naming it, verify --fix sets it aside and the run works', () => {
    const {cache, hash} = store()
    const p = join(cache, 'engines', hash.slice(0, 2), hash)
    fifo(p)
    refused(
      run(['run', 'f', '--input', '1'], cache, {BURN_DAEMON: 'off'}),
      `the engines record of script ${hash} cannot be read (${p} is a FIFO, not a regular file); run \`burn verify --fix\``,
    )
    repairs(cache, ['misplaced'])
    assert.deepEqual(json(run(['run', 'f', '--input', '5', '--json'], cache, {BURN_DAEMON: 'off'})), {hash, cache: 'hit', result: {f: 5}})
  })

  test('at an object: run exits 8, verify --fix repairs the store', () => {
    const {cache, hash} = store()
    fifo(join(cache, 'objects', hash.slice(0, 2), hash))
    repairs(cache, ['misplaced', 'orphan-compiled', 'orphan-engines', 'dangling-alias'])
    fifo(join(cache, 'objects', hash.slice(0, 2), hash))
    const r = run(['run', hash], cache)
    assert.equal(r.code, 8, r.stderr)
    assert.match(
      r.stderr,
      new RegExp(`^Error: the stored source of ${hash} cannot be read \\(.* is a FIFO, not a regular file\\); it was set aside`),
    )
  })

  test('at a lock file: register breaks it instead of waiting on it', () => {
    const {cache, hash} = store()
    fifo(join(cache, 'pending', `${hash}.${TAG}.lock`))
    const r = run(['register', script], cache)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(run(['list'], cache).code, 0)
  })
})

describe('register reads only regular files, and only so much', () => {
  const work = tmp()

  test('/dev/zero and a FIFO are refused at once (exit 2), the store does not grow', () => {
    const cache = tmp()
    const t0 = Date.now()
    const r = run(['register', '/dev/zero'], cache)
    assert.equal(r.stderr, 'Error: /dev/zero is a device, not a regular file; pass a script file, or - to read one from stdin\n')
    assert.equal(r.code, 2)
    assert.ok(Date.now() - t0 < 10_000)
    const f = join(work, 'pipe.js')
    assert.equal(spawnSync('mkfifo', [f]).status, 0)
    const p = run(['register', f], cache)
    assert.equal(p.stderr, `Error: ${f} is a FIFO, not a regular file; pass a script file, or - to read one from stdin\n`)
    assert.equal(p.code, 2)
    assert.deepEqual(readdirSync(join(cache, 'objects')), [])
  })

  test('a source over the cap is refused (exit 6) with the flag to raise it; the raised flag accepts it', () => {
    const cache = tmp()
    const big = writeScript(work, 'big.js', `module.exports = 1 // ${'x'.repeat(2 * 1024 * 1024)}\n`)
    const r = run(['register', big, '--max-source', '1MiB'], cache)
    assert.equal(
      r.stderr,
      `Error: ${big} is larger than the source size limit of 1MiB; pass --max-source with a larger size to register it\n`,
    )
    assert.equal(r.code, 6)
    assert.equal(run(['register', big, '--max-source', '4MiB'], cache).code, 0)
    // The default is 64 MiB (a sparse file: nothing is read to refuse it).
    const huge = join(work, 'huge.js')
    writeFileSync(huge, '')
    truncateSync(huge, 64 * 1024 * 1024 + 1)
    const d = run(['register', huge], cache)
    assert.equal(
      d.stderr,
      `Error: ${huge} is larger than the source size limit of 64MiB; pass --max-source with a larger size to register it\n`,
    )
    assert.equal(d.code, 6)
    const bad = run(['register', big, '--max-source', 'lots'], cache)
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /invalid --max-source "lots"/)
  })

  test('stdin is capped too', () => {
    const cache = tmp()
    const r = done(
      burn(['register', '-', '--max-source', '1KiB'], {
        cacheDir: cache,
        input: `module.exports = 1 // ${'y'.repeat(4096)}\n`,
        timeoutMs: SPAWN_MS,
      }),
      'register -',
    )
    assert.equal(
      r.stderr,
      'Error: <stdin> is larger than the source size limit of 1KiB; pass --max-source with a larger size to register it\n',
    )
    assert.equal(r.code, 6)
    const ok = done(
      burn(['register', '-', '--max-source', '1KiB', '--json'], {cacheDir: cache, input: 'module.exports = 2\n', timeoutMs: SPAWN_MS}),
      'register -',
    )
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(json(ok).results[0].hash, sha('module.exports = 2\n'))
  })
})
