import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {engineTag} from '../../src/engines/tag.js'
import {assertNoDebris} from '../fixtures/store.js'
import {burn, burnAsync, json, register, stats, tmp, writeScript} from '../helpers.js'

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex')
const TAG = engineTag('v8')
const compiledPath = (cache: string, hash: string) => join(cache, 'compiled', TAG, hash.slice(0, 2), hash)
const objectPath = (cache: string, hash: string) => join(cache, 'objects', hash.slice(0, 2), hash)

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {encoding: 'utf8'})
  return Number(r.stdout.trim())
}

describe('register and run', () => {
  it('cold register then warm run give identical output, and the run is a code-cache hit', () => {
    const cache = tmp()
    const file = writeScript(tmp(), 'double.js', 'module.exports = (i) => ({y: i.x * 2, tag: "double"})\n')
    const r1 = burn(['register', file, '--name', 'double'], {cacheDir: cache})
    assert.equal(r1.code, 0, r1.stderr)
    const hash = sha(readFileSync(file))
    assert.equal(r1.stdout, `${hash}  compiled  double  ${file}\n`)
    const a = burn(['run', 'double', '--input', '{"x":21}'], {cacheDir: cache})
    const b = burn(['run', hash.slice(0, 8), '--input', '{"x":21}'], {cacheDir: cache})
    assert.equal(a.code, 0, a.stderr)
    assert.equal(a.stdout, '{"y":42,"tag":"double"}\n')
    assert.equal(b.stdout, a.stdout)
    const j = json(burn(['run', hash, '--input', '{"x":21}', '--json'], {cacheDir: cache}))
    assert.deepEqual(j, {hash, cache: 'hit', result: {y: 42, tag: 'double'}})
    const again = burn(['register', file], {cacheDir: cache})
    assert.equal(again.stdout, `${hash}  hit       -  ${file}\n`)
  })

  it('two distinct sources give distinct outputs', () => {
    const cache = tmp()
    const dir = tmp()
    const a = register(cache, writeScript(dir, 'a.js', 'module.exports = () => "a"\n'))
    const b = register(cache, writeScript(dir, 'b.js', 'module.exports = () => "b"\n'))
    assert.notEqual(a, b)
    assert.equal(burn(['run', a], {cacheDir: cache}).stdout, '"a"\n')
    assert.equal(burn(['run', b], {cacheDir: cache}).stdout, '"b"\n')
  })

  it('an equal-length source edit gets a new hash and the new behaviour, even with the old code cache planted', () => {
    const cache = tmp()
    const dir = tmp()
    const v1 = 'module.exports = () => "AAAA"\n'
    const v2 = 'module.exports = () => "BBBB"\n'
    assert.equal(v1.length, v2.length)
    const h1 = register(cache, writeScript(dir, 'v1.js', v1))
    const h2 = register(cache, writeScript(dir, 'v2.js', v2))
    assert.equal(burn(['run', h1], {cacheDir: cache}).stdout, '"AAAA"\n')
    assert.equal(burn(['run', h2], {cacheDir: cache}).stdout, '"BBBB"\n')
    // V8 itself accepts a same-length foreign cache and runs the OLD code: the header must stop it.
    writeFileSync(compiledPath(cache, h2), readFileSync(compiledPath(cache, h1)))
    const r = burn(['run', h2, '--json'], {cacheDir: cache})
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(json(r), {hash: h2, cache: 'corrupt', result: 'BBBB'})
    assert.equal(json(burn(['run', h2, '--json'], {cacheDir: cache})).cache, 'hit')
  })

  it('the script contract: value exports, async, undefined, console to stderr, input sources', () => {
    const cache = tmp()
    const dir = tmp()
    const val = register(cache, writeScript(dir, 'v.js', 'module.exports = {answer: 42}\n'))
    assert.equal(burn(['run', val], {cacheDir: cache}).stdout, '{"answer":42}\n')
    const undef = register(cache, writeScript(dir, 'u.js', 'module.exports = () => undefined\n'))
    assert.equal(burn(['run', undef], {cacheDir: cache}).stdout, 'null\n')
    const asy = register(
      cache,
      writeScript(
        dir,
        'a.js',
        'module.exports = async (i) => { console.log("seen", i); await new Promise(r => setTimeout(r, 5)); return i }\n',
      ),
    )
    const r = burn(['run', asy, '--input', '[1,2]'], {cacheDir: cache})
    assert.equal(r.stdout, '[1,2]\n')
    assert.equal(r.stderr, 'seen [ 1, 2 ]\n')
    assert.equal(burn(['run', asy], {cacheDir: cache, input: '{"from":"stdin"}'}).stdout, '{"from":"stdin"}\n')
    assert.equal(burn(['run', asy], {cacheDir: cache}).stdout, 'null\n')
    const f = writeScript(dir, 'in.json', '{"from":"file"}')
    assert.equal(burn(['run', asy, '--input-file', f], {cacheDir: cache}).stdout, '{"from":"file"}\n')
    assert.equal(burn(['run', asy, '--input-file', '-'], {cacheDir: cache, input: '7'}).stdout, '7\n')
    assert.equal(burn(['run', asy, '--input', '{"a":[1]}', '--pretty'], {cacheDir: cache}).stdout, '{\n  "a": [\n    1\n  ]\n}\n')
    const env = register(cache, writeScript(dir, 'env.js', 'module.exports = () => [typeof require, typeof process]\n'))
    assert.equal(burn(['run', env], {cacheDir: cache}).stdout, '["undefined","undefined"]\n')
  })

  it('values JSON cannot hold are exit 7 naming the path', () => {
    const cache = tmp()
    const dir = tmp()
    const big = register(cache, writeScript(dir, 'b.js', 'module.exports = () => ({a: [1, {b: 10n}]})\n'))
    const r = burn(['run', big], {cacheDir: cache})
    assert.equal(r.code, 7)
    assert.equal(r.stderr, 'Error: result is not JSON: a BigInt at $.a[1].b\n')
    const cyc = register(cache, writeScript(dir, 'c.js', 'const o = {k: {}}; o.k.back = o; module.exports = () => o\n'))
    assert.equal(burn(['run', cyc], {cacheDir: cache}).stderr, 'Error: result is not JSON: a cycle at $.k.back\n')
    const fn = register(cache, writeScript(dir, 'f.js', 'module.exports = () => ({f() {}})\n'))
    assert.equal(burn(['run', fn], {cacheDir: cache}).stderr, 'Error: result is not JSON: a function at $.f\n')
    const j = json(burn(['run', fn, '--json'], {cacheDir: cache}))
    assert.deepEqual(j.error.code, 7)
  })

  it('register takes stdin, globs and many files in one call', () => {
    const cache = tmp()
    const dir = tmp()
    for (let i = 0; i < 5; i++) writeScript(dir, `s${i}.js`, `module.exports = () => ${i}\n`)
    const r = burn(['register', join(dir, '*.js'), '--json'], {cacheDir: cache})
    assert.equal(r.code, 0, r.stderr)
    const out = json(r)
    assert.equal(out.results.length, 5)
    assert.deepEqual(
      out.results.map((x: {status: string}) => x.status),
      Array(5).fill('compiled'),
    )
    assert.deepEqual(out.errors, [])
    const src = 'module.exports = (x) => x + 1\n'
    const s = burn(['register', '-', '--name', 'inc'], {cacheDir: cache, input: src})
    assert.equal(s.stdout, `${sha(src)}  compiled  inc  <stdin>\n`)
    assert.equal(burn(['run', 'inc', '--input', '1'], {cacheDir: cache}).stdout, '2\n')
  })

  it('the store is private to the user, tagged, and versioned', () => {
    const cache = join(tmp(), 'fresh')
    register(cache, writeScript(tmp(), 'a.js', 'module.exports = 1\n'))
    assert.equal(statSync(cache).mode & 0o777, 0o700)
    assert.match(readFileSync(join(cache, 'CACHEDIR.TAG'), 'utf8'), /^Signature: 8a477f597d28d172789f06886806bc55/)
    assert.deepEqual(JSON.parse(readFileSync(join(cache, 'store.json'), 'utf8')), {format: 1})
  })
})

describe('concurrency across processes', () => {
  it('8 processes registering the same new source compile it exactly once', async () => {
    const cache = tmp()
    const file = writeScript(tmp(), 'same.js', `module.exports = () => "same-${Date.now()}"\n`)
    register(cache, writeScript(tmp(), 'warm.js', 'module.exports = 0\n')) // the store exists
    const before = stats(cache).compiles
    const rs = await Promise.all(Array.from({length: 8}, () => burnAsync(['register', file, '--json'], {cacheDir: cache})))
    for (const r of rs) assert.equal(r.code, 0, r.stderr)
    const hashes = new Set(rs.map((r) => json(r).results[0].hash))
    assert.deepEqual([...hashes], [sha(readFileSync(file))])
    assert.equal(rs.filter((r) => json(r).results[0].status === 'compiled').length, 1)
    assert.equal(stats(cache).compiles, before + 1)
  })

  it('8 processes registering 8 distinct sources each get exactly their own result', async () => {
    const cache = tmp()
    const dir = tmp()
    const files = Array.from({length: 8}, (_, i) => writeScript(dir, `d${i}.js`, `module.exports = (x) => ({me: ${i}, x})\n`))
    const rs = await Promise.all(files.map((f) => burnAsync(['register', f, '--json'], {cacheDir: cache})))
    const runs = await Promise.all(
      rs.map((r, i) => {
        assert.equal(r.code, 0, r.stderr)
        assert.equal(json(r).results[0].hash, sha(readFileSync(files[i])))
        return burnAsync(['run', json(r).results[0].hash, '--input', String(i * 10)], {cacheDir: cache})
      }),
    )
    runs.forEach((r, i) => assert.equal(r.stdout, `{"me":${i},"x":${i * 10}}\n`))
    assert.equal(stats(cache).compiles, 8)
  })
})

describe('crash safety', () => {
  const points = [
    'lock:acquired',
    'register:compiled',
    'object:tmp-written',
    'object:tmp-synced',
    'object:renamed',
    'register:object-written',
    'compiled:tmp-written',
    'compiled:tmp-synced',
    'compiled:renamed',
    'name:tmp-written',
    'name:renamed',
  ]
  for (const point of points) {
    it(`a register killed with SIGKILL at ${point} leaves nothing half-written`, () => {
      const cache = tmp()
      register(cache, writeScript(tmp(), 'warm.js', 'module.exports = 0\n'))
      const file = writeScript(tmp(), 'k.js', `module.exports = (x) => ({killed: "${point}", x})\n`)
      const hash = sha(readFileSync(file))
      const k = burn(['register', file, '--name', 'k'], {cacheDir: cache, env: {BURN_FAULT: point}})
      assert.equal(k.signal, 'SIGKILL')
      // Whatever is under its final name is whole: sources hash to their names, artifacts are checked.
      if (existsSync(objectPath(cache, hash))) assert.equal(sha(readFileSync(objectPath(cache, hash))), hash)
      // verify finds no damage, only what a killed writer leaves by design: its locks (stale, as
      // its process is gone), a record before its source, and the tmp file of a write it was in.
      const v = burn(['verify', '--json'], {cacheDir: cache})
      assert.equal(v.code, 0, v.stdout + v.stderr)
      for (const p of json(v).problems) assert.ok(['stale-lock', 'orphan-engines'].includes(p.kind), JSON.stringify(p))
      const writing = /^(\w+):tmp-/.exec(point)?.[1]
      const debris = readdirSync(join(cache, 'tmp'))
      assert.deepEqual(
        debris.map((f) => f.replace(/\.\d+\.[0-9a-f]{12}\.tmp$/, '')),
        writing ? [writing] : [],
      )
      if (writing === 'object') assert.equal(readFileSync(join(cache, 'tmp', debris[0]), 'utf8'), readFileSync(file, 'utf8'))
      const run = burn(['run', hash, '--input', '1'], {cacheDir: cache})
      if (run.code === 0) assert.equal(run.stdout, `{"killed":"${point}","x":1}\n`)
      else assert.equal(run.code, 3, run.stderr)
      // The lock of the dead register is broken at once and registering again completes.
      const again = burn(['register', file, '--name', 'k'], {cacheDir: cache, timeoutMs: 20_000})
      assert.equal(again.code, 0, again.stderr)
      assert.equal(burn(['run', 'k', '--input', '2'], {cacheDir: cache}).stdout, `{"killed":"${point}","x":2}\n`)
      // Once the killed writer's tmp file is old enough for gc to be sure no one writes it, gc
      // removes it and nothing at all is left behind.
      const old = new Date(Date.now() - 2 * 3600_000)
      for (const f of debris) utimesSync(join(cache, 'tmp', f), old, old)
      assert.equal(burn(['gc'], {cacheDir: cache}).code, 0)
      assertNoDebris(cache)
    })
  }
})

describe('damage never gives a wrong result', () => {
  const src = 'module.exports = (x) => ({ok: x})\n'
  const setup = () => {
    const cache = tmp()
    const hash = register(cache, writeScript(tmp(), 'd.js', src))
    return {cache, hash}
  }
  const damages: Array<[string, (p: string) => void]> = [
    [
      'a flipped byte',
      (p) => {
        const b = readFileSync(p)
        b[b.length >> 1] ^= 0xff
        writeFileSync(p, b)
      },
    ],
    ['a truncated file', (p) => truncateSync(p, Math.floor(statSync(p).size / 2))],
    ['a zero-length file', (p) => truncateSync(p, 0)],
  ]
  for (const [what, damage] of damages) {
    it(`${what} in a compiled artifact: recompiles and answers correctly`, () => {
      const {cache, hash} = setup()
      damage(compiledPath(cache, hash))
      const r = burn(['run', hash, '--input', '5', '--json'], {cacheDir: cache})
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(json(r), {hash, cache: 'corrupt', result: {ok: 5}})
      assert.equal(readdirSync(join(cache, 'damaged')).length, 1)
      assert.equal(json(burn(['run', hash, '--input', '6', '--json'], {cacheDir: cache})).cache, 'hit')
    })
    it(`${what} in a source object: refused with exit 8, never run`, () => {
      const {cache, hash} = setup()
      damage(objectPath(cache, hash))
      const r = burn(['run', hash, '--input', '5'], {cacheDir: cache})
      assert.equal(r.code, 8, r.stdout + r.stderr)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, new RegExp(`^Error: the stored source of ${hash} does not match its hash; it was set aside`))
      // set aside: the script is now simply not there
      assert.equal(burn(['run', hash], {cacheDir: cache}).code, 3)
    })
  }
})

describe('the pending registry', () => {
  const lockFor = (cache: string, hash: string) => join(cache, 'pending', `${hash}.${TAG}.lock`)

  it('a lock left by a dead process is broken at once', () => {
    const cache = tmp()
    register(cache, writeScript(tmp(), 'warm.js', 'module.exports = 0\n'))
    const file = writeScript(tmp(), 'l.js', 'module.exports = "locked"\n')
    const hash = sha(readFileSync(file))
    writeFileSync(lockFor(cache, hash), JSON.stringify({pid: deadPid(), host: require_hostname(), token: 'dead', created: Date.now()}))
    const t0 = Date.now()
    const r = burn(['register', file, '--json'], {cacheDir: cache, env: {BURN_LOCK_STALE_MS: '60000'}})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(json(r).results[0].status, 'compiled')
    assert.ok(Date.now() - t0 < 10_000)
    assert.equal(existsSync(lockFor(cache, hash)), false)
  })

  it('a lock whose heartbeat stopped is broken after the stale period', () => {
    const cache = tmp()
    register(cache, writeScript(tmp(), 'warm.js', 'module.exports = 0\n'))
    const file = writeScript(tmp(), 'h.js', 'module.exports = "hb"\n')
    const hash = sha(readFileSync(file))
    // an owner on another host: only the heartbeat can tell
    writeFileSync(lockFor(cache, hash), JSON.stringify({pid: 1, host: 'elsewhere', token: 'x', created: 0}))
    const old = new Date(Date.now() - 60_000)
    utimesSync(lockFor(cache, hash), old, old)
    const r = burn(['register', file, '--json'], {cacheDir: cache, env: {BURN_LOCK_STALE_MS: '5000'}})
    assert.equal(json(r).results[0].status, 'compiled')
  })

  it('a live holder is waited for; a wait that times out compiles anyway', async () => {
    const cache = tmp()
    register(cache, writeScript(tmp(), 'warm.js', 'module.exports = 0\n'))
    const file = writeScript(tmp(), 'w.js', 'module.exports = "waited"\n')
    const hash = sha(readFileSync(file))
    const lock = lockFor(cache, hash)
    writeFileSync(lock, JSON.stringify({pid: process.pid, host: require_hostname(), token: 'live', created: Date.now()}))
    // (a register that wrongly breaks the live lock removes it: the test's assertions say so, not this beat)
    const beat = setInterval(() => existsSync(lock) && utimesSync(lock, new Date(), new Date()), 200)
    try {
      // Whether the register waited is what it reports and whether it was still running when the
      // holder let go: the time this test slept proves nothing about the register.
      let exitedAt: number | undefined
      const pending = burnAsync(['register', file, '--json'], {cacheDir: cache, env: {BURN_LOCK_WAIT_MS: '120000'}}).then((res) => {
        exitedAt = Date.now()
        return res
      })
      // long enough for a register on a loaded machine to start and reach the lock (1.5 s was not, at 3 test files at once)
      await new Promise((r) => setTimeout(r, 6000))
      assert.equal(existsSync(compiledPath(cache, hash)), false, 'nothing published while the holder lives')
      clearInterval(beat)
      const {rmSync} = await import('node:fs')
      assert.equal(exitedAt, undefined, 'the register finished while the holder was alive')
      const releasedAt = Date.now()
      rmSync(lock)
      const r = await pending
      assert.equal(r.code, 0, r.stderr)
      assert.ok(exitedAt! >= releasedAt)
      assert.equal(json(r).results[0].status, 'compiled')
      assert.equal(json(r).results[0].waited, true)
      // a holder that never lets go: the bounded wait ends and the compile happens anyway
      const file2 = writeScript(tmp(), 'w2.js', 'module.exports = "w2"\n')
      const lock2 = lockFor(cache, sha(readFileSync(file2)))
      writeFileSync(lock2, JSON.stringify({pid: process.pid, host: require_hostname(), token: 'live2', created: Date.now()}))
      const r2 = burn(['register', file2, '--json'], {cacheDir: cache, env: {BURN_LOCK_WAIT_MS: '300'}})
      assert.equal(r2.code, 0, r2.stderr)
      assert.equal(json(r2).results[0].status, 'compiled')
      assert.equal(existsSync(lock2), true, "another owner's lock is never removed")
    } finally {
      clearInterval(beat)
    }
  })
})

function require_hostname(): string {
  return spawnSync('hostname', {encoding: 'utf8'}).stdout.trim() || process.env.HOSTNAME || ''
}

describe('exit codes and bad input', () => {
  const cache = tmp()
  const dir = tmp()
  register(cache, writeScript(dir, 'ok.js', 'module.exports = (x) => x\n'), ['--name', 'ok'])

  // Each case's stdout and stderr, byte for byte. `head`: a message followed by text that is not
  // burn's (a bug's stack trace, oclif's usage text): the message itself is compared exactly.
  interface Case {
    name: string
    args: string[]
    code: number
    stdout?: string
    stderr?: string
    head?: string
    env?: Record<string, string>
    input?: string
  }
  const REF = 'expected a full hash, a unique prefix of at least 6 hex digits, or a name (to add a file, use `burn register <file>`)'
  const NAME = "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, with no '..' and no path separators"
  const NO_MATCH = (ref: string) =>
    `Error: no script matches "${ref}"; \`burn list\` shows what is registered, \`burn register <file>\` adds one\n`
  const throws = 'module.exports = () => { throw new RangeError("nope") }\n'
  const initThrows = 'throw new Error("at init")\n'
  const frame = (src: string) => `script-${sha(src).slice(0, 12)}.js`
  const cases: Case[] = [
    {name: 'success', args: ['run', 'ok', '--input', '1'], code: 0, stdout: '1\n'},
    {
      name: 'a bug (injected)',
      args: ['register', writeScript(dir, 'bug.js', 'module.exports = "bug"\n')],
      code: 1,
      env: {BURN_FAULT: 'register:compiled:throw'},
      head: 'Error: internal error (a bug in burn): Error: injected internal error at register:compiled\n    at faultPoint (',
    },
    {
      name: 'an unknown flag',
      args: ['run', 'ok', '--nope'],
      code: 2,
      head: ' ›   Error: Nonexistent flag: --nope\n ›   See more help with --help\n\nUSAGE\n  $ burn run SCRIPT ',
    },
    {
      name: 'a bad engine',
      args: ['run', 'ok', '--engine', 'lua'],
      code: 2,
      stderr: ' ›   Error: Expected --engine=lua to be one of: v8, quickjs\n ›   See more help with --help\n',
    },
    {
      name: 'conflicting input flags',
      args: ['run', 'ok', '--input', '1', '--input-file', 'x'],
      code: 2,
      stderr:
        ' ›   Error: The following errors occurred:\n' +
        ' ›     --input-file=x cannot also be provided when using --input\n' +
        ' ›     --input=1 cannot also be provided when using --input-file\n' +
        ' ›   See more help with --help\n',
    },
    {
      name: 'a path traversal',
      args: ['run', '../../etc/passwd'],
      code: 2,
      stderr: `Error: invalid script reference "../../etc/passwd": ${REF}\n`,
    },
    {name: 'an absolute path', args: ['run', '/etc/passwd'], code: 2, stderr: `Error: invalid script reference "/etc/passwd": ${REF}\n`},
    {
      name: 'a name with a slash',
      args: ['register', join(dir, 'ok.js'), '--name', 'a/b'],
      code: 2,
      stderr: `Error: invalid name "a/b": ${NAME}\n`,
    },
    {
      name: 'a name with ..',
      args: ['register', join(dir, 'ok.js'), '--name', '..'],
      code: 2,
      stderr: `Error: invalid name "..": ${NAME}\n`,
    },
    {
      name: 'forget with a traversal',
      args: ['forget', '../names/ok'],
      code: 2,
      stderr: `Error: invalid script reference "../names/ok": ${REF}\n`,
    },
    {
      name: 'a bad timeout',
      args: ['run', 'ok', '--timeout', 'soon'],
      code: 2,
      stderr: 'Error: invalid --timeout "soon": expected a positive duration such as 500ms, 5s, 12h or 30d\n',
    },
    {name: 'an unknown script', args: ['run', 'nosuchscript'], code: 3, stderr: NO_MATCH('nosuchscript')},
    {name: 'an unknown hash', args: ['run', 'f'.repeat(64)], code: 3, stderr: NO_MATCH('f'.repeat(64))},
    {
      name: 'a missing file',
      args: ['register', join(dir, 'missing.js')],
      code: 3,
      stderr: `Error: file not found: ${join(dir, 'missing.js')}\n`,
    },
    {
      name: 'a missing input file',
      args: ['run', 'ok', '--input-file', join(dir, 'none.json')],
      code: 3,
      stderr: `Error: input file ${join(dir, 'none.json')} does not exist\n`,
    },
    {
      name: 'a syntax error',
      args: ['register', writeScript(dir, 'syn.js', 'module.exports = (x) => {\n  return x +;\n}\n')],
      code: 4,
      stderr: `Error: ${join(dir, 'syn.js')}:2:13: SyntaxError: Unexpected token ';'\n`,
    },
    {
      name: 'a script that throws',
      args: ['run', register(cache, writeScript(dir, 'th.js', throws))],
      code: 5,
      stderr: `Error: RangeError: nope\n    at module.exports (${frame(throws)}:1:32)\n`,
    },
    {
      name: 'an init that throws',
      args: ['register', writeScript(dir, 'init.js', initThrows)],
      code: 5,
      stderr:
        `Error: ${join(dir, 'init.js')}: module initialisation threw: Error: at init\n` +
        `${frame(initThrows)}:1\n${initThrows}^\n\nError: at init\n    at ${frame(initThrows)}:1:7\n`,
    },
    {
      name: 'a timeout',
      args: ['run', register(cache, writeScript(dir, 'loop.js', 'module.exports = () => { while (true) {} }\n')), '--timeout', '300ms'],
      code: 6,
      stderr: 'Error: timeout: the script ran longer than --timeout 300ms\n',
    },
    {
      name: 'invalid JSON input',
      args: ['run', 'ok', '--input', '{"a":'],
      code: 7,
      stderr: 'Error: invalid JSON input: Unexpected end of JSON input\n',
    },
    {
      name: 'invalid JSON on stdin',
      args: ['run', 'ok'],
      input: 'not json',
      code: 7,
      stderr: 'Error: invalid JSON input: Unexpected token \'o\', "not json" is not valid JSON\n',
    },
  ]
  for (const c of cases) {
    it(`${c.name} -> exit ${c.code}`, () => {
      const r = burn(c.args, {cacheDir: cache, env: c.env, input: c.input})
      assert.equal(r.code, c.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`)
      assert.equal(r.stdout, c.stdout ?? '')
      if (c.head !== undefined) assert.equal(r.stderr.slice(0, c.head.length), c.head)
      else assert.equal(r.stderr, c.stderr ?? '')
      if (c.code !== 0) {
        // the same code under --json, with the error as JSON on stdout
        const j = burn([...c.args, '--json'], {cacheDir: cache, env: c.env, input: c.input})
        assert.equal(j.code, c.code, j.stdout + j.stderr)
        assert.equal(json(j).error.code, c.code)
      }
    })
  }

  it('an ambiguous prefix -> exit 3 listing the candidates', () => {
    const c2 = tmp()
    register(c2, writeScript(dir, 'ok2.js', 'module.exports = 2\n'))
    const a = 'abcdef' + '0'.repeat(58)
    const b = 'abcdef' + '1'.repeat(58)
    mkdirSync(join(c2, 'objects', 'ab'), {recursive: true})
    writeFileSync(join(c2, 'objects', 'ab', a), 'x')
    writeFileSync(join(c2, 'objects', 'ab', b), 'y')
    const r = burn(['run', 'abcdef'], {cacheDir: c2})
    assert.equal(r.code, 3)
    assert.equal(r.stderr, `Error: ambiguous prefix abcdef: it matches 2 scripts:\n  ${a}\n  ${b}\nuse more digits\n`)
    assert.deepEqual(json(burn(['run', 'abcdef', '--json'], {cacheDir: c2})).error.candidates, [a, b])
  })

  it('a store of a newer format -> exit 8, and nothing is touched', () => {
    const c3 = tmp()
    register(c3, writeScript(dir, 'ok3.js', 'module.exports = 3\n'))
    writeFileSync(join(c3, 'store.json'), '{"format": 2}\n')
    for (const args of [['run', 'ok3'], ['register', join(dir, 'ok3.js')], ['list']]) {
      const r = burn(args, {cacheDir: c3})
      assert.equal(r.code, 8)
      assert.match(
        r.stderr,
        /^Error: the store in .* has format 2, newer than this burn supports \(1\); upgrade burn or pass another --cache-dir/,
      )
    }
  })

  it('a cache directory that is a file -> exit 8', () => {
    const f = writeScript(tmp(), 'notadir', 'x')
    const r = burn(['register', join(dir, 'ok.js')], {cacheDir: f})
    assert.equal(r.code, 8)
    assert.match(r.stderr, /is not a directory; remove it or pass another --cache-dir/)
  })

  it('an unwritable cache directory -> exit 8', {skip: process.getuid?.() === 0 ? 'root ignores permissions' : false}, () => {
    const ro = tmp()
    chmodSync(ro, 0o500)
    const r = burn(['register', join(dir, 'ok.js')], {cacheDir: join(ro, 'c')})
    assert.equal(r.code, 8)
  })

  it('a full disk while registering -> exit 8, and the store keeps working', () => {
    const r = burn(['register', writeScript(dir, 'full.js', 'module.exports = "full"\n')], {cacheDir: cache, env: {BURN_FAULT_ENOSPC: '1'}})
    assert.equal(r.code, 8)
    assert.match(r.stderr, /^Error: store problem: ENOSPC: no space left on device/)
    assert.equal(r.stderr, 'Error: store problem: ENOSPC: no space left on device (injected by BURN_FAULT_ENOSPC)\n')
    assertNoDebris(cache)
    assert.equal(burn(['run', 'ok', '--input', '9'], {cacheDir: cache}).stdout, '9\n')
  })
})

describe('forget, list, show', () => {
  it('forget removes source, compiled forms and names, and is idempotent', () => {
    const cache = tmp()
    const hash = register(cache, writeScript(tmp(), 'f.js', 'module.exports = "f"\n'), ['--name', 'eff'])
    const r = burn(['forget', 'eff'], {cacheDir: cache})
    assert.equal(r.code, 0)
    assert.equal(r.stdout, `forgot ${hash} (eff)\n`)
    assert.equal(existsSync(objectPath(cache, hash)), false)
    assert.equal(existsSync(compiledPath(cache, hash)), false)
    assert.equal(existsSync(join(cache, 'names', 'eff')), false)
    const again = burn(['forget', 'eff', hash], {cacheDir: cache})
    assert.equal(again.code, 0)
    assert.equal(again.stdout, `eff: not registered (nothing to do)\n${hash}: not registered (nothing to do)\n`)
    assert.equal(burn(['run', hash], {cacheDir: cache}).code, 3)
  })

  it('list and show describe what is registered', () => {
    const cache = tmp()
    const src = 'module.exports = "shown"\n'
    const hash = register(cache, writeScript(tmp(), 's.js', src), ['--name', 'shown'])
    const l = json(burn(['list', '--json'], {cacheDir: cache}))
    assert.equal(l.scripts.length, 1)
    assert.equal(l.scripts[0].hash, hash)
    assert.deepEqual(l.scripts[0].names, ['shown'])
    assert.equal(l.scripts[0].bytes, Buffer.byteLength(src))
    assert.deepEqual(l.scripts[0].engines, ['v8'])
    assert.deepEqual(l.scripts[0].compiled, [TAG])
    const human = burn(['list'], {cacheDir: cache}).stdout
    assert.match(human, new RegExp(`│ ${hash.slice(0, 12)} │ shown │ 25 B`))
    const s = burn(['show', 'shown'], {cacheDir: cache})
    assert.equal(s.code, 0)
    assert.match(s.stdout, new RegExp(`^hash: {7}${hash}\nnames: {6}shown\nsize: {7}25 bytes\n`))
    assert.ok(s.stdout.endsWith(`\n${src}`))
    assert.equal(json(burn(['show', 'shown', '--json'], {cacheDir: cache})).source, src)
    assert.equal(burn(['list'], {cacheDir: tmp()}).stdout, 'no scripts registered; add one with `burn register <file>`\n')
  })
})
