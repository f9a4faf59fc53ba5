import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, cpSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {before, describe, test} from 'node:test'
import {
  assertNoDebris,
  compiledPath,
  currentTag,
  deadPid,
  FOREIGN_TAG,
  foreignArtifact,
  objectPath,
  put,
  sha,
  walk,
} from '../fixtures/store.js'
import {BIN, burn, burnAsync, json, ok, register, tmp, writeScript, type Result} from '../helpers.js'

// burn stats, gc and verify against the real binary (the counters under concurrency: stats-counters.test.ts): each
// kind of damage alone, LRU order, gc racing runs, and sizes checked against a walk of the disk.

describe('burn stats: sizes', () => {
  test('every size equals a walk of the store, and the disk use equals du', async () => {
    const dir = tmp()
    const cache = join(dir, 'cache')
    const a = register(cache, writeScript(dir, 'a.js', 'module.exports = (x) => x\n// ' + 'a'.repeat(5000) + '\n'), ['--name', 'a'])
    register(cache, writeScript(dir, 'b.js', 'module.exports = 42\n'))
    ok(burn(['run', 'a', '--input', '1'], {cacheDir: cache}), 'run')
    put(join(cache, 'tmp', 'object.1.abc.tmp'), 'x'.repeat(1000))
    put(join(cache, 'damaged', 'compiled.x.1'), 'y'.repeat(300))
    await foreignArtifact(cache, a)
    const s = json(ok(burn(['stats', '--json'], {cacheDir: cache}), 'stats')).store
    const w = walk(cache)
    assert.equal(s.scripts, 2)
    assert.equal(s.names, 1)
    assert.equal(s.sourceBytes, w.top.objects.bytes)
    assert.equal(s.areas.objects.files, w.top.objects.files)
    for (const [tag, t] of Object.entries(w.tags)) {
      assert.equal(s.compiled[tag].bytes, t.bytes, tag)
      assert.equal(s.compiled[tag].files, t.files, tag)
    }
    assert.equal(s.compiled[FOREIGN_TAG].foreign, true)
    assert.equal(s.debris.tmpBytes, 1000)
    assert.equal(s.debris.damagedBytes, 300)
    for (const area of ['names', 'stats', 'tmp', 'damaged']) assert.equal(s.areas[area].bytes, w.top[area]?.bytes ?? 0, area)
    assert.equal(s.totalFiles, w.files)
    assert.equal(s.totalBytes, w.bytes)
    assert.equal(s.diskBytes, w.disk)
    const du = spawnSync('du', ['-s', '-B1', cache], {encoding: 'utf8'})
    if (du.status === 0) assert.equal(s.diskBytes, Number(du.stdout.split(/\s/)[0]))
  })
})

describe('burn verify: each kind of damage alone', () => {
  let base: string
  let A: string
  // Made here, not in before(): tmp() removes its directory when the enclosing test or hook ends.
  const work = tmp()
  const SRC_A = 'module.exports = (x) => ({a: x})\n'
  const SRC_B = 'module.exports = (x) => ({b: x})\n'

  before(() => {
    base = join(work, 'base')
    A = register(base, writeScript(work, 'a.js', SRC_A), ['--name', 'a'])
    register(base, writeScript(work, 'b.js', SRC_B), ['--name', 'b'])
    const v = json(burn(['verify', '--json'], {cacheDir: base}))
    assert.deepEqual(v.problems, [])
    assert.equal(v.clean, true)
  })

  type Case = {
    name: string
    kind: string
    severity: 'damage' | 'debris'
    inject: (cache: string, tag: string) => void | Promise<void> | string | Promise<string>
    detail?: RegExp
    /** The damage took script A out of the store: a run gives exit 3 until it is registered again. */
    removesA?: boolean
  }
  const flip = (p: string, at: (len: number) => number) => {
    const b = readFileSync(p)
    b[at(b.length)] ^= 0xff
    writeFileSync(p, b)
  }
  const cases: Case[] = [
    {
      name: 'a flipped byte in a source',
      kind: 'source-mismatch',
      severity: 'damage',
      detail: /same length/,
      removesA: true,
      inject: (c) => flip(objectPath(c, A), (n) => n - 3),
    },
    {
      name: 'a flipped byte in a compiled form',
      kind: 'compiled-bad',
      severity: 'damage',
      detail: /checksum/,
      inject: (c, t) => flip(compiledPath(c, t, A), (n) => n - 10),
    },
    {
      name: 'a truncated source',
      kind: 'source-mismatch',
      severity: 'damage',
      detail: /truncated: 10 of 33 bytes/,
      removesA: true,
      inject: (c) => truncateSync(objectPath(c, A), 10),
    },
    {
      name: 'a truncated compiled form',
      kind: 'compiled-bad',
      severity: 'damage',
      detail: /header says/,
      inject: (c, t) => truncateSync(compiledPath(c, t, A), lstatSync(compiledPath(c, t, A)).size - 20),
    },
    {
      name: 'a zero-length source',
      kind: 'source-mismatch',
      severity: 'damage',
      detail: /empty file/,
      removesA: true,
      inject: (c) => truncateSync(objectPath(c, A), 0),
    },
    {
      name: 'a zero-length compiled form',
      kind: 'compiled-bad',
      severity: 'damage',
      detail: /empty file/,
      inject: (c, t) => truncateSync(compiledPath(c, t, A), 0),
    },
    {
      name: 'a source under a wrong name',
      kind: 'source-mismatch',
      severity: 'damage',
      detail: /content hashes to [0-9a-f]{64}: changed, or a file under a wrong name/,
      inject: (c) => {
        const wrong = sha('not the content')
        put(objectPath(c, wrong), SRC_A)
        return `objects/${wrong.slice(0, 2)}/${wrong}`
      },
    },
    {
      name: 'a source in the wrong shard',
      kind: 'misplaced',
      severity: 'damage',
      inject: (c) => {
        const shard = A.startsWith('00') ? '01' : '00'
        put(join(c, 'objects', shard, A), SRC_A)
        return `objects/${shard}/${A}`
      },
    },
    {
      name: 'an alias to a missing hash',
      kind: 'dangling-alias',
      severity: 'damage',
      inject: (c) => (put(join(c, 'names', 'ghost'), sha('nothing') + '\n'), 'names/ghost'),
    },
    {
      name: 'an alias that holds no hash',
      kind: 'bad-alias',
      severity: 'damage',
      inject: (c) => (put(join(c, 'names', 'junk'), 'hello\n'), 'names/junk'),
    },
    {
      name: 'the lock of a dead process',
      kind: 'stale-lock',
      severity: 'debris',
      inject: (c, t) => {
        const rel = `pending/${A}.${t}.lock`
        put(join(c, rel), JSON.stringify({pid: deadPid(), host: hostname(), token: 'feedface', created: Date.now()}))
        return rel
      },
    },
    {
      name: 'an old tmp file',
      kind: 'old-tmp',
      severity: 'debris',
      inject: (c) => (
        put(join(c, 'tmp', 'object.99.abcdef.tmp'), 'partial', new Date(Date.now() - 2 * 3600_000)),
        'tmp/object.99.abcdef.tmp'
      ),
    },
    {
      name: 'a compiled form of a foreign engine tag',
      kind: 'foreign-compiled',
      severity: 'debris',
      inject: async (c) => (await foreignArtifact(c, A), `compiled/${FOREIGN_TAG}/${A.slice(0, 2)}/${A}`),
    },
    {
      name: 'an orphan compiled form',
      kind: 'orphan-compiled',
      severity: 'debris',
      inject: (c, t) => {
        const h = sha('gone')
        put(compiledPath(c, t, h), 'whatever')
        return `compiled/${t}/${h.slice(0, 2)}/${h}`
      },
    },
    {
      name: 'a damaged store.json',
      kind: 'store-json',
      severity: 'damage',
      detail: /not valid JSON/,
      inject: (c) => (put(join(c, 'store.json'), '{"form'), 'store.json'),
    },
    {
      name: 'a damaged stats file',
      kind: 'stats-bad',
      severity: 'damage',
      inject: (c) => (put(join(c, 'stats', 'd-1-2-3.json'), '{"counters":'), 'stats/d-1-2-3.json'),
    },
    {
      name: 'a group-writable directory',
      kind: 'permissions',
      severity: 'damage',
      detail: /group/,
      inject: (c) => (chmodSync(join(c, 'names'), 0o770), 'names'),
    },
  ]

  for (const k of cases) {
    test(`${k.name}: verify reports exactly it, --fix repairs it, then clean and runs are right`, async () => {
      const cache = join(work, k.kind + '-' + cases.indexOf(k))
      cpSync(base, cache, {recursive: true})
      const tag = currentTag(cache)
      const path = (await k.inject(cache, tag)) ?? undefined

      const v1 = burn(['verify', '--json'], {cacheDir: cache})
      const r1 = json(v1)
      assert.equal(r1.problems.length, 1, JSON.stringify(r1.problems, null, 2))
      const [p] = r1.problems
      assert.equal(p.kind, k.kind)
      assert.equal(p.severity, k.severity)
      if (path) assert.equal(p.path, path)
      if (k.detail) assert.match(p.detail, k.detail)
      assert.equal(v1.code, k.severity === 'damage' ? 8 : 0, v1.stdout)
      if (cases.indexOf(k) === 0)
        assert.match(burn(['verify'], {cacheDir: cache}).stderr, /^Error: 1 damaged item\(s\) remain; run `burn verify --fix`\n$/)

      const r2 = json(ok(burn(['verify', '--fix', '--json'], {cacheDir: cache}), 'verify --fix'))
      assert.equal(r2.problems.length, 1)
      assert.equal(r2.problems[0].fixed, true, JSON.stringify(r2.problems[0]))
      assert.equal(r2.clean, true)

      // clean, and nothing of the repair left behind (tmp files, locks, names or compiled forms without a source)
      assertNoDebris(cache)

      assert.equal(ok(burn(['run', 'b', '--input', '2'], {cacheDir: cache}), 'run b').stdout, '{"b":2}\n')
      if (k.removesA) {
        const gone = burn(['run', 'a', '--input', '1'], {cacheDir: cache})
        assert.equal(gone.code, 3, gone.stderr)
        assert.equal(burn(['run', A, '--input', '1'], {cacheDir: cache}).code, 3)
        register(cache, join(work, 'a.js'), ['--name', 'a'])
      }
      assert.equal(ok(burn(['run', 'a', '--input', '1'], {cacheDir: cache}), 'run a').stdout, '{"a":1}\n')
    })
  }

  const hasScript = spawnSync('script', ['--version']).status === 0
  test('verify shows progress on a terminal, and only there', {skip: hasScript ? false : 'no `script` command to make a terminal'}, () => {
    const r = spawnSync('script', ['-qec', `stty cols 100 rows 30; "${process.execPath}" "${BIN}" verify`, '/dev/null'], {
      env: {...process.env, BURN_CACHE_DIR: base},
      encoding: 'utf8',
      timeout: 30_000,
    })
    assert.equal(r.status, 0, r.stdout)
    assert.match(r.stdout, /verifying/)
    assert.match(r.stdout, /the store is clean/)
    const plain = burn(['verify'], {cacheDir: base})
    assert.doesNotMatch(plain.stderr + plain.stdout, /verifying/)
  })

  test('a store of a newer format is refused and left untouched', () => {
    const cache = join(work, 'newer')
    cpSync(base, cache, {recursive: true})
    put(join(cache, 'store.json'), '{"format":2}\n')
    const r = burn(['verify', '--fix', '--json'], {cacheDir: cache})
    assert.equal(r.code, 8)
    assert.match(json(r).error.message, /format 2, newer/)
    assert.equal(readFileSync(join(cache, 'store.json'), 'utf8'), '{"format":2}\n')
  })
})

describe('burn gc', () => {
  const pad = (i: number) => `module.exports = (x) => ({s: ${i}, x})\n/* ${'p'.repeat(16_000)} */\n`

  test('LRU order is by last use: register A, B, C; run A; a --max-size that fits two keeps A and C', () => {
    const dir = tmp()
    const cache = join(dir, 'cache')
    const [A, B, C] = [0, 1, 2].map((i) => register(cache, writeScript(dir, `s${i}.js`, pad(i))))
    ok(burn(['run', A, '--input', '1'], {cacheDir: cache}), 'run A')
    ok(burn(['gc'], {cacheDir: cache}), 'gc')
    const tag = currentTag(cache)
    const disk = (p: string) => lstatSync(p).blocks * 512
    const sizeB = disk(objectPath(cache, B)) + disk(compiledPath(cache, tag, B))
    const max = walk(cache).disk - Math.floor(sizeB / 2)

    const dry = json(ok(burn(['gc', '--max-size', String(max), '--dry-run', '--json'], {cacheDir: cache}), 'gc --dry-run'))
    assert.deepEqual(
      dry.actions.map((a: {kind: string; hash: string}) => [a.kind, a.hash]),
      [['evict-size', B]],
    )
    assert.ok(existsSync(objectPath(cache, B)), 'a dry run removes nothing')

    const r = json(ok(burn(['gc', '--max-size', String(max), '--json'], {cacheDir: cache}), 'gc --max-size'))
    assert.deepEqual(
      r.actions.map((a: {kind: string; hash: string; done: boolean}) => [a.kind, a.hash, a.done]),
      [['evict-size', B, true]],
    )
    assert.equal(r.fits, true)
    assert.ok(r.freed.diskBytes >= sizeB)
    const left = json(burn(['list', '--json'], {cacheDir: cache}))
      .scripts.map((s: {hash: string}) => s.hash)
      .sort()
    assert.deepEqual(left, [A, C].sort())
    assert.ok(walk(cache).disk <= max)
    assert.equal(burn(['run', B], {cacheDir: cache}).code, 3)
    assert.equal(ok(burn(['run', C, '--input', '5'], {cacheDir: cache}), 'run C').stdout, '{"s":2,"x":5}\n')
  })

  test('--older-than evicts scripts unused for that long, with their names', async () => {
    const dir = tmp()
    const cache = join(dir, 'cache')
    const old = register(cache, writeScript(dir, 'old.js', pad(7)), ['--name', 'old'])
    await new Promise((r) => setTimeout(r, 2500))
    const fresh = register(cache, writeScript(dir, 'fresh.js', pad(8)), ['--name', 'fresh'])
    const r = json(ok(burn(['gc', '--older-than', '2s', '--json'], {cacheDir: cache}), 'gc --older-than'))
    assert.deepEqual(
      r.actions.map((a: {kind: string; hash: string; names: string[]}) => [a.kind, a.hash, a.names]),
      [['evict-age', old, ['old']]],
    )
    assert.equal(burn(['run', 'old'], {cacheDir: cache}).code, 3)
    assert.equal(ok(burn(['run', 'fresh', '--input', '1'], {cacheDir: cache}), 'run').stdout, '{"s":8,"x":1}\n')
    assertNoDebris(cache)
    assert.equal(fresh.length, 64)
  })

  test('removes debris, honours live locks and young tmp files, and reports bytes freed', async () => {
    const dir = tmp()
    const cache = join(dir, 'cache')
    const a = register(cache, writeScript(dir, 'a.js', pad(1)), ['--name', 'a'])
    const tag = currentTag(cache)
    put(join(cache, 'tmp', 'old.tmp'), 'x'.repeat(100), new Date(Date.now() - 2 * 3600_000))
    put(join(cache, 'tmp', 'young.tmp'), 'in flight')
    put(
      join(cache, 'pending', `${sha('x')}.${tag}.lock`),
      JSON.stringify({pid: deadPid(), host: hostname(), token: 't', created: Date.now()}),
    )
    put(
      join(cache, 'pending', `${sha('y')}.${tag}.lock`),
      JSON.stringify({pid: process.pid, host: hostname(), token: 'live', created: Date.now()}),
    )
    put(join(cache, 'damaged', 'object.z.1.ab'), 'bad')
    await foreignArtifact(cache, a)
    put(compiledPath(cache, tag, sha('orphan')), 'orphan')
    put(join(cache, 'names', 'ghost'), sha('nothing') + '\n')

    const r = json(ok(burn(['gc', '--json'], {cacheDir: cache}), 'gc'))
    const kinds = r.actions.map((x: {kind: string}) => x.kind).sort()
    assert.deepEqual(kinds, ['dangling-alias', 'foreign', 'orphan', 'set-aside', 'stale-lock', 'tmp'])
    assert.ok(r.actions.every((x: {done: boolean}) => x.done))
    assert.equal(
      r.freed.bytes,
      r.actions.reduce((s: number, x: {bytes: number}) => s + x.bytes, 0),
    )
    assert.ok(existsSync(join(cache, 'tmp', 'young.tmp')), 'a young tmp file may be a write in flight')
    assert.ok(existsSync(join(cache, 'pending', `${sha('y')}.${tag}.lock`)), 'a live lock stays')
    assert.ok(!existsSync(join(cache, 'compiled', FOREIGN_TAG)), 'the emptied foreign tag directory goes too')
    assert.equal(ok(burn(['run', 'a', '--input', '3'], {cacheDir: cache}), 'run').stdout, '{"s":1,"x":3}\n')

    const human = ok(burn(['gc', '--keep-foreign'], {cacheDir: cache}), 'gc again').stdout
    assert.match(human, /nothing to remove/)
  })

  test('nonsense sizes and ages are usage errors (exit 2)', () => {
    const cache = join(tmp(), 'cache')
    for (const args of [
      ['--max-size', 'lots'],
      ['--max-size', '5MB/s'],
      ['--max-size', '0'],
      ['--max-size', '-1MB'],
      ['--older-than', '30'],
      ['--older-than', 'yesterday'],
      ['--tmp-age', '0h'],
    ]) {
      const r = burn(['gc', ...args, '--json'], {cacheDir: cache})
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
      assert.equal(json(r).error.kind, 'usage')
    }
    assert.equal(burn(['gc', '--max-size', '500MB', '--older-than', '30d', '--dry-run'], {cacheDir: cache}).code, 0)
    assert.equal(burn(['gc', '--max-size', '2GiB', '--older-than', '12h', '--dry-run'], {cacheDir: cache}).code, 0)
  })

  /** `burn gc` stopped right after it planned its evictions (BURN_FAULT=...:stop); `race` runs, then gc goes on. */
  async function gcRacedBy(cache: string, race: () => void): Promise<any> {
    const gc = spawn(process.execPath, [BIN, 'gc', '--json', '--max-size', '1'], {
      env: {...process.env, BURN_CACHE_DIR: cache, BURN_FAULT: 'gc:planned:stop'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    gc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    const closed = new Promise((r) => gc.on('close', r))
    const state = () => {
      try {
        return readFileSync(`/proc/${gc.pid}/stat`, 'utf8').split(') ')[1][0]
      } catch {
        return 'gone'
      }
    }
    try {
      for (let i = 0; i < 400 && state() !== 'T'; i++) await new Promise((r) => setTimeout(r, 25))
      assert.equal(state(), 'T', 'gc stopped after planning')
      race()
    } finally {
      gc.kill('SIGCONT')
    }
    await closed
    return json({code: 0, signal: null, stdout: out, stderr: ''})
  }

  test('a register while gc evicts: the script registered again stays, with its name (a hit, and a miss on a stored source)', async () => {
    const cache = tmp()
    const dir = tmp()
    const files = ['a', 'b', 'c'].map((n) => writeScript(dir, `${n}.js`, `module.exports = "${n}"\n`))
    const hashes = files.map((f) => register(cache, f))
    const registered = json(burn(['list', '--json'], {cacheDir: cache})).scripts.map((s: any) => [s.hash, s.registered])
    // c's compiled form is gone (a register killed after writing the source): its next register
    // compiles, over a source gc has planned to evict
    const tag = readdirSync(join(cache, 'compiled'))[0]
    rmSync(join(cache, 'compiled', tag, hashes[2].slice(0, 2), hashes[2]))
    const report = await gcRacedBy(cache, () => {
      assert.equal(json(burn(['register', files[1], '--name', 'kept', '--json'], {cacheDir: cache})).results[0].status, 'hit')
      assert.equal(json(burn(['register', files[2], '--name', 'kept2', '--json'], {cacheDir: cache})).results[0].status, 'compiled')
    })
    const evictions = report.actions.filter((a: any) => a.kind === 'evict-size')
    assert.deepEqual(
      evictions.map((a: any) => [a.hash, a.done, a.skipped]).sort(),
      [
        [hashes[0], true, undefined],
        [hashes[1], false, 'registered again since gc planned'],
        [hashes[2], false, 'registered again since gc planned'],
      ].sort(),
    )
    assert.equal(burn(['run', 'kept'], {cacheDir: cache}).stdout, '"b"\n')
    assert.equal(burn(['run', 'kept2'], {cacheDir: cache}).stdout, '"c"\n')
    assert.equal(burn(['run', hashes[0]], {cacheDir: cache}).code, 3)
    assertNoDebris(cache)
    // the mark of use leaves the registration time `burn list` shows as it was
    const now = json(burn(['list', '--json'], {cacheDir: cache})).scripts.map((s: any) => [s.hash, s.registered])
    assert.deepEqual(
      now,
      registered.filter(([h]: [string]) => h !== hashes[0]),
    )
  })

  test('gc during a stream of concurrent runs: every run gives its exact result or a clean exit 3, nothing else', async (t) => {
    const dir = tmp()
    const cache = join(dir, 'cache')
    const N = 6
    for (let i = 0; i < N; i++) writeScript(join(dir, 'src'), `s${i}.js`, pad(i))
    const hashes: string[] = json(ok(burn(['register', join(dir, 'src', '*.js'), '--json'], {cacheDir: cache}), 'register')).results.map(
      (r: {hash: string; file: string}) => r.hash,
    )
    const tag = currentTag(cache)
    put(join(cache, 'tmp', 'old.tmp'), 'x', new Date(Date.now() - 2 * 3600_000))
    put(
      join(cache, 'pending', `${sha('x')}.${tag}.lock`),
      JSON.stringify({pid: deadPid(), host: hostname(), token: 't', created: Date.now()}),
    )
    await foreignArtifact(cache, hashes[0])

    let stop = false
    const evicted = new Set<string>()
    const runs: Array<{i: number; x: number; r: Result}> = []
    // Each loop runs until the last gc ended, then a few more (those find evicted scripts).
    const loop = async (l: number) => {
      for (let k = 0, after = 0; k < 60 && after < 3; k++) {
        if (stop) after++
        const i = (l + k) % N
        const x = l * 100 + k
        runs.push({i, x, r: await burnAsync(['run', hashes[i], '--input', String(x)], {cacheDir: cache})})
      }
    }
    const gcs: Result[] = []
    const collector = async () => {
      await new Promise((r) => setTimeout(r, 300))
      for (const args of [[], ['--keep-foreign'], [], ['--max-size', String(walk(cache).disk - 40_000)], [], ['--max-size', '1']]) {
        const r = await burnAsync(['gc', '--json', ...args], {cacheDir: cache})
        gcs.push(r)
        for (const a of json(r).actions) if (a.kind.startsWith('evict') && a.done) evicted.add(a.hash)
      }
      stop = true
    }
    await Promise.all([collector(), ...[0, 1, 2, 3].map(loop)])
    for (const g of gcs) assert.equal(g.code, 0, g.stdout + g.stderr)
    assert.ok(evicted.size > 0, 'the last gc evicts')
    let results = 0
    for (const {i, x, r} of runs) {
      if (r.code === 0) {
        assert.equal(r.stdout, `{"s":${i},"x":${x}}\n`)
        results++
      } else {
        assert.equal(r.code, 3, `run ${i} exited ${r.code}: ${r.stderr}`)
        assert.ok(evicted.has(hashes[i]), `exit 3 for a script that was not evicted: ${r.stderr}`)
        // (resolved, then evicted before its source was read: outcome.ts)
        assert.match(r.stderr, /no script matches|was removed while it was being run; register it again/)
      }
    }
    assert.ok(results > 0)
    t.diagnostic(
      `${runs.length} runs: ${results} results, ${runs.length - results} exit 3; ${evicted.size} scripts evicted by ${gcs.length} gc runs`,
    )
    assertNoDebris(cache)
  })
})
