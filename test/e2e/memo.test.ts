import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {inputDigest, memoKey} from '../../src/store/results/key.js'
import {encodeResult} from '../../src/store/results/format.js'
import {loadXxh64} from '../../src/util/hash.js'
import {burn, burnAsync, json, register, stats, tmp, writeScript, type Result} from '../helpers.js'

// `burn run --memo` and `--idempotency-key` end to end (issue 14): the built binary, real processes.
const dir = tmp('burn-memo-')
const T = ['--timeout', '60s']
const direct = {BURN_DAEMON: 'off'}
const LIMITS = {timeoutMs: 60_000, memoryBytes: 256 * 1024 * 1024, maxOutputBytes: 64 * 1024 * 1024, maxLogBytes: 1024 * 1024}

// Says on stderr that it ran, so a call that did not run it has an empty stderr.
const ECHO = 'module.exports = (x) => { console.error("ran"); return {x, r: Math.random()} }'

function fresh(name: string, source = ECHO, engines = ['v8']): {cacheDir: string; hash: string} {
  const cacheDir = join(dir, name)
  const file = writeScript(join(dir, `${name}-src`), 'script.js', source)
  let hash = ''
  for (const e of engines) hash = register(cacheDir, file, ['--name', 's', '--engine', e])
  return {cacheDir, hash}
}

const resultFiles = (cacheDir: string, hash: string): string[] => {
  const d = join(cacheDir, 'results', hash.slice(0, 2), hash)
  return existsSync(d) ? readdirSync(d).map((f) => join(d, f)) : []
}
const counter = (c: Record<string, number>, id: string) => c[id] ?? 0

describe('burn run --memo', () => {
  it('prints the stored bytes without running the script; another input, engine, --fuel or script is a miss', () => {
    const {cacheDir, hash} = fresh('basic', ECHO, ['v8', 'quickjs'])
    const run = (extra: string[]) => burn(['run', 's', '--memo', ...T, ...extra], {cacheDir, env: direct})
    const first = run(['--input', '{"a": 1}', '--engine', 'v8'])
    assert.equal(first.code, 0, first.stderr)
    assert.equal(first.stderr, 'ran\n')
    const before = stats(cacheDir)
    // whitespace is not part of the key; the stored bytes come back, console output is not replayed
    const second = run(['--input', '{"a":1}', '--engine', 'v8'])
    assert.deepEqual([second.code, second.stdout, second.stderr], [0, first.stdout, ''])
    const after = stats(cacheDir)
    assert.equal(counter(after, 'memo.hits'), counter(before, 'memo.hits') + 1)
    assert.equal(after['runs.ok'], before['runs.ok'])
    const asJson = json(run(['--input', '{"a":1}', '--engine', 'v8', '--json']))
    assert.deepEqual(asJson, {hash, cache: 'memo', result: JSON.parse(first.stdout)})
    // misses: another input, key order, the other engine, another --fuel
    for (const extra of [
      ['--input', '{"a": 2}', '--engine', 'v8'],
      ['--input', '{"b": 1, "a": 1}', '--engine', 'v8'],
      ['--input', '{"a": 1}', '--engine', 'quickjs'],
      ['--input', '{"a": 1}', '--engine', 'quickjs', '--fuel', '100000'],
    ]) {
      const r = run(extra)
      assert.deepEqual([r.code, r.stderr], [0, 'ran\n'], extra.join(' '))
    }
    const end = stats(cacheDir)
    assert.deepEqual(
      ['memo.hits', 'memo.misses', 'memo.stored', 'runs.ok'].map((id) => counter(end, id)),
      [2, 5, 5, before['runs.ok'] + 4],
    )
    assert.equal(resultFiles(cacheDir, hash).length, 5)
  })

  it('a script edit (a new hash) is a miss; a failed run stores nothing', () => {
    const {cacheDir} = fresh('edit')
    const file = writeScript(join(dir, 'edit-src'), 'script.js', ECHO.replace('ran', 'ran again'))
    const a = burn(['run', 's', '--memo', '--input', '1', ...T], {cacheDir, env: direct})
    register(cacheDir, file, ['--name', 's'])
    const b = burn(['run', 's', '--memo', '--input', '1', ...T], {cacheDir, env: direct})
    assert.deepEqual([a.code, a.stderr, b.code, b.stderr], [0, 'ran\n', 0, 'ran again\n'])
    const thrower = writeScript(join(dir, 'edit-src'), 'throw.js', 'module.exports = () => { console.error("ran"); throw new Error("no") }')
    const th = register(cacheDir, thrower, ['--name', 't'])
    for (let i = 0; i < 2; i++) {
      const r = burn(['run', 't', '--memo', '--input', '1', ...T], {cacheDir, env: direct})
      assert.equal(r.code, 5)
      assert.match(r.stderr, /^ran\n/)
    }
    assert.deepEqual(resultFiles(cacheDir, th), [])
  })

  it('a hit through the run daemon client, and one on stdin answered by a daemon runner', () => {
    const {cacheDir} = fresh('daemon')
    const daemonOnly = {BURN_DAEMON: 'require'}
    burn(['run', 's', '--input', '0', ...T], {cacheDir}) // starts the daemon
    const miss = burn(['run', 's', '--memo', '--input-file', '-', ...T], {cacheDir, env: daemonOnly, input: '[1, 2]'})
    const viaStdin = burn(['run', 's', '--memo', '--input-file', '-', ...T], {
      cacheDir,
      env: {...daemonOnly, BURN_DEBUG: '1'},
      input: '[1,2]',
    })
    // BURN_DEBUG says how a call was served, by the daemon or directly: a hit answered by the client says nothing
    const viaText = burn(['run', 's', '--memo', '--input', '[1,2]', ...T], {cacheDir, env: {...daemonOnly, BURN_DEBUG: '1'}})
    assert.deepEqual([miss.code, miss.stderr], [0, 'ran\n'])
    assert.deepEqual([viaStdin.code, viaStdin.stdout, viaStdin.stderr], [0, miss.stdout, 'burn: debug: served by the run daemon\n'])
    assert.deepEqual([viaText.code, viaText.stdout, viaText.stderr], [0, miss.stdout, ''])
    burn(['daemon', 'stop'], {cacheDir})
  })

  it('quickjs reads a fixed Date.now() under --memo, the same on every call; the real clock without', () => {
    const src = 'module.exports = (x) => [x, Date.now(), new Date().toISOString(), new Date(5).getTime(), typeof Date()]'
    const {cacheDir} = fresh('clock', src, ['quickjs'])
    const a = burn(['run', 's', '--memo', '--input', '1', ...T], {cacheDir, env: direct})
    const b = burn(['run', 's', '--memo', '--input', '2', ...T], {cacheDir, env: direct})
    assert.equal(a.stdout, '[1,946684800000,"2000-01-01T00:00:00.000Z",5,"string"]\n')
    assert.equal(b.stdout, '[2,946684800000,"2000-01-01T00:00:00.000Z",5,"string"]\n')
    const real = json(burn(['run', 's', '--input', '1', ...T], {cacheDir, env: direct}))
    assert.ok(Math.abs(real[1] - Date.now()) < 600_000, String(real[1]))
  })

  // The run daemon's runner runs a module body ahead of its call, before the call's clock is
  // known: a body that reads the clock must not give a --memo call the real time.
  it('quickjs through the run daemon: a module body that reads the clock sees the fixed one under --memo', () => {
    const {cacheDir} = fresh('clock-body', 'const t = Date.now()\nmodule.exports = (x) => [x, t]', ['quickjs'])
    const env = {BURN_DAEMON: 'require'}
    for (const x of [1, 2, 3, 4]) {
      const r = burn(['run', 's', '--memo', '--input', String(x), ...T], {cacheDir, env})
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, `[${x},946684800000]\n`, ''], `call ${x}`)
    }
    burn(['daemon', 'stop'], {cacheDir})
  })
})

describe('burn run --memo: damage', () => {
  const damages: Array<[string, (path: string) => void]> = [
    ['a flipped byte', (p) => flip(p, statSync(p).size - 3)],
    ['a flipped header byte', (p) => flip(p, 30)],
    ['a truncated file', (p) => truncateSync(p, statSync(p).size - 1)],
    ['a zero-length file', (p) => truncateSync(p, 0)],
  ]
  for (const [what, damage] of damages) {
    it(`${what} never prints a wrong result: the call recomputes`, () => {
      const {cacheDir, hash} = fresh(`damage-${what.replace(/ /g, '-')}`, 'module.exports = (x) => { console.error("ran"); return {x} }')
      const first = burn(['run', 's', '--memo', '--input', '"abc"', ...T], {cacheDir, env: direct})
      const [file] = resultFiles(cacheDir, hash)
      damage(file)
      const again = burn(['run', 's', '--memo', '--input', '"abc"', ...T], {cacheDir, env: direct})
      assert.deepEqual([again.code, again.stdout, again.stderr], [0, '{"x":"abc"}\n', 'ran\n'])
      assert.equal(first.stdout, again.stdout)
      // stored again, good; the damaged one set aside
      const hit = burn(['run', 's', '--memo', '--input', '"abc"', ...T], {cacheDir, env: direct})
      assert.deepEqual([hit.code, hit.stdout, hit.stderr], [0, '{"x":"abc"}\n', ''])
      assert.equal(readdirSync(join(cacheDir, 'damaged')).filter((f) => f.startsWith('result.')).length, 1)
    })
  }
})

function flip(path: string, at: number): void {
  const b = readFileSync(path)
  b[at] ^= 0x01
  writeFileSync(path, b)
}

describe('burn run --memo: in-flight dedup', () => {
  // Busy for 3 s of its own CPU-free time (a timer), so 8 of them at once do not need 8 cores.
  const SLOW = 'module.exports = async (x) => { console.error("ran"); await new Promise((r) => setTimeout(r, 3000)); return {x} }'

  it('8 identical calls at once run the script once; the other 7 print its result', async () => {
    const {cacheDir} = fresh('dedup', SLOW)
    const runs = await Promise.all(
      Array.from({length: 8}, () => burnAsync(['run', 's', '--memo', '--input', '{"n":8}', ...T], {cacheDir, env: direct})),
    )
    for (const r of runs) assert.deepEqual([r.code, r.stdout], [0, '{"x":{"n":8}}\n'], r.stderr)
    assert.equal(runs.filter((r) => r.stderr === 'ran\n').length, 1)
    const s = stats(cacheDir)
    assert.deepEqual([counter(s, 'memo.misses'), counter(s, 'memo.hits'), counter(s, 'memo.stored'), s['runs.ok']], [1, 7, 1, 1])
  })

  it('8 identical calls at once through the run daemon run the script once too (its runners hold the lock)', async () => {
    const {cacheDir} = fresh('dedup-daemon', SLOW)
    burn(['run', 's', '--input', '0', ...T], {cacheDir}) // starts the daemon
    const runs = await Promise.all(
      Array.from({length: 8}, () =>
        burnAsync(['run', 's', '--memo', '--input', '{"n":"d"}', ...T], {cacheDir, env: {BURN_DAEMON: 'require'}}),
      ),
    )
    burn(['daemon', 'stop'], {cacheDir})
    for (const r of runs) assert.deepEqual([r.code, r.stdout], [0, '{"x":{"n":"d"}}\n'], r.stderr)
    assert.equal(runs.filter((r) => r.stderr === 'ran\n').length, 1)
    const s = stats(cacheDir)
    assert.deepEqual([counter(s, 'memo.misses'), counter(s, 'memo.hits'), counter(s, 'memo.stored')], [1, 7, 1])
  })

  it('a holder killed with SIGKILL mid-run: a waiter runs it itself and the others print its result', async () => {
    const {cacheDir} = fresh('killed', SLOW)
    const runs = Array.from({length: 4}, () => burnAsync(['run', 's', '--memo', '--input', '"k"', ...T], {cacheDir, env: direct}))
    const holder = await lockHolder(join(cacheDir, 'pending'))
    process.kill(holder, 'SIGKILL')
    const done: Result[] = await Promise.all(runs)
    const failed = done.filter((r) => r.code !== 0)
    assert.equal(failed.length, 1, done.map((r) => r.stderr).join('|'))
    // (a SIGKILL from outside reads, to the supervisor, as the kernel's out-of-memory kill)
    assert.deepEqual(
      [failed[0].code, failed[0].stderr],
      [6, 'ran\nError: memory limit exceeded: the script was killed by the system (out of memory)\n'],
    )
    for (const r of done.filter((r) => r.code === 0)) assert.equal(r.stdout, '{"x":"k"}\n')
    const s = stats(cacheDir)
    assert.deepEqual([counter(s, 'memo.misses'), counter(s, 'memo.hits'), s['runs.ok']], [1, 2, 1])
  })
})

/** The pid in the first memo lock of `pending` once one is there (its holder runs the script). */
async function lockHolder(pending: string): Promise<number> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const lock = existsSync(pending) ? readdirSync(pending).find((f) => f.startsWith('memo.') && f.endsWith('.lock')) : undefined
    if (lock) {
      try {
        const info = JSON.parse(readFileSync(join(pending, lock), 'utf8')) as {pid: number}
        // the holder has started the script: it said so on stderr... or is about to; give it a moment
        await new Promise((r) => setTimeout(r, 500))
        return info.pid
      } catch {
        // caught between create and write
      }
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('no memo lock appeared')
}

describe('burn run --idempotency-key', () => {
  const SRC = 'module.exports = (x) => { console.error("ran"); return {x, t: Date.now()} }'

  it('the first call records; a repeat with the same input prints it without running; another input exits 7', () => {
    const {cacheDir, hash} = fresh('idem', SRC, ['quickjs'])
    const run = (input: string, extra: string[] = []) =>
      burn(['run', 's', '--idempotency-key', 'order-17', '--input', input, ...T, ...extra], {cacheDir, env: direct})
    const first = run('{"amount": 5}')
    assert.deepEqual([first.code, first.stdout, first.stderr], [0, '{"x":{"amount":5},"t":946684800000}\n', 'ran\n'])
    const repeat = run('{"amount":5}')
    assert.deepEqual([repeat.code, repeat.stdout, repeat.stderr], [0, first.stdout, ''])
    const digest = (input: string) => inputDigest({hash, engine: 'quickjs', input, limits: LIMITS})
    const conflict = run('{"amount": 6}')
    assert.equal(conflict.code, 7)
    assert.equal(conflict.stdout, '')
    assert.equal(
      conflict.stderr,
      `Error: idempotency key order-17 was first used with input digest ${digest('{"amount":5}')}; ` +
        `this call's input digest is ${digest('{"amount":6}')} (use a new key for a new input)\n`,
    )
    const asJson = run('{"amount":6}', ['--json'])
    assert.equal(asJson.code, 7)
    assert.deepEqual(json(asJson).error, {
      code: 7,
      kind: 'badData',
      message: conflict.stderr.slice('Error: '.length, -1),
      idempotencyKey: 'order-17',
      recorded: digest('{"amount":5}'),
      given: digest('{"amount":6}'),
    })
    // --idempotency-key alone stores no memo result
    assert.deepEqual(resultFiles(cacheDir, hash), [])
  })

  it('a repeat on the other engine (or after an engine upgrade, which changes every memo key) gets the recorded result', () => {
    const {cacheDir} = fresh('idem-engines', SRC, ['quickjs', 'v8'])
    const run = (engine: string) =>
      burn(['run', 's', '--idempotency-key', 'k1', '--engine', engine, '--input', '{"a":1}', ...T], {cacheDir, env: direct})
    const first = run('quickjs')
    assert.deepEqual([first.code, first.stdout, first.stderr], [0, '{"x":{"a":1},"t":946684800000}\n', 'ran\n'])
    const other = run('v8')
    assert.deepEqual([other.code, other.stdout, other.stderr], [0, first.stdout, ''])
  })

  for (const bad of ['../x', '', '.hidden', 'a/b', 'x'.repeat(129), 'a..b']) {
    it(`a bad key ${JSON.stringify(bad.slice(0, 12))} exits 2`, () => {
      const {cacheDir} = fresh(`idem-bad-${bad.length}-${bad.charCodeAt(0) || 0}`, SRC, ['quickjs'])
      const r = burn(['run', 's', '--idempotency-key', bad, '--input', '1', ...T], {cacheDir, env: direct})
      assert.equal(r.code, 2)
      assert.equal(
        r.stderr,
        `Error: invalid idempotency key ${JSON.stringify(bad)}: use 1-128 letters, digits, '.', '_' or '-', ` +
          "starting with a letter or digit, with no '..'\n",
      )
    })
  }
})

describe('memo results in stats, verify, forget and gc', () => {
  const memo = (cacheDir: string, input: string, ref = 's') => burn(['run', ref, '--memo', '--input', input, ...T], {cacheDir, env: direct})

  it('stats counts hits, misses, stored and the results on disk', () => {
    const {cacheDir, hash} = fresh('stats')
    for (const input of ['1', '2', '1']) assert.equal(memo(cacheDir, input).code, 0)
    const r = json(burn(['stats', '--json'], {cacheDir}))
    assert.deepEqual(
      ['memo.hits', 'memo.misses', 'memo.stored'].map((id) => r.counters[id]),
      [1, 2, 2],
    )
    const sizes = resultFiles(cacheDir, hash).map((f) => statSync(f).size)
    assert.deepEqual(r.store.results, {files: 2, bytes: sizes[0] + sizes[1], diskBytes: r.store.results.diskBytes})
    const table = burn(['stats'], {cacheDir}).stdout
    assert.match(table, /│ memo hits \(stored result printed, script not run\) +│ 1 +│/)
    assert.match(table, /│ memo misses \(script run\) +│ 2 +│/)
    assert.match(table, /│ memo results stored +│ 2 +│/)
    assert.match(table, new RegExp(`│ memo results +│ 2 files, ${sizes[0] + sizes[1]} B +│`))
  })

  it('verify finds a flipped byte as damage (exit 8), --fix sets it aside, and a run recomputes', () => {
    const {cacheDir, hash} = fresh('verify', 'module.exports = (x) => { console.error("ran"); return [x] }')
    memo(cacheDir, '"v"')
    const [file] = resultFiles(cacheDir, hash)
    flip(file, statSync(file).size - 1)
    const rel = file.slice(cacheDir.length + 1)
    const v = burn(['verify', '--json'], {cacheDir})
    assert.equal(v.code, 8)
    const report = json(v)
    assert.deepEqual(report.problems, [
      {
        kind: 'result-bad',
        severity: 'damage',
        path: rel,
        hash,
        detail: 'payload checksum mismatch',
        action: 'set aside (damaged/); a run with --memo computes it again',
      },
    ])
    assert.equal(report.checked.results, 1)
    const fixed = burn(['verify', '--fix', '--json'], {cacheDir})
    assert.deepEqual([fixed.code, json(fixed).problems[0].fixed, existsSync(file)], [0, true, false])
    assert.equal(burn(['verify'], {cacheDir}).code, 0)
    const again = memo(cacheDir, '"v"')
    assert.deepEqual([again.code, again.stdout, again.stderr], [0, '["v"]\n', 'ran\n'])
  })

  it('forget removes a script with its results', () => {
    const {cacheDir, hash} = fresh('forget')
    memo(cacheDir, '1')
    memo(cacheDir, '2')
    assert.equal(resultFiles(cacheDir, hash).length, 2)
    assert.equal(burn(['forget', 's'], {cacheDir}).code, 0)
    assert.equal(existsSync(join(cacheDir, 'results', hash.slice(0, 2), hash)), false)
    assert.equal(burn(['verify'], {cacheDir}).code, 0)
  })

  it('results of a script whose source is gone (a forget that crashed midway) are debris: verify reports them, gc removes them', () => {
    const {cacheDir, hash} = fresh('orphan')
    memo(cacheDir, '1')
    const [file] = resultFiles(cacheDir, hash)
    const rel = file.slice(cacheDir.length + 1)
    rmSync(join(cacheDir, 'objects', hash.slice(0, 2), hash))
    const v = json(burn(['verify', '--json'], {cacheDir}))
    const orphan = v.problems.find((p: {kind: string}) => p.kind === 'orphan-result')
    assert.deepEqual(orphan, {
      kind: 'orphan-result',
      severity: 'debris',
      path: rel,
      hash,
      detail: 'a memoized result whose script is gone',
      action: 'remove',
    })
    const g = json(burn(['gc', '--json'], {cacheDir}))
    const removed = g.actions.filter((a: {path: string}) => a.path === rel)
    assert.deepEqual(
      removed.map((a: {kind: string; detail: string; done: boolean}) => [a.kind, a.detail, a.done]),
      [['orphan', 'memoized result of a source that is not in the store', true]],
    )
    assert.equal(existsSync(file), false)
  })

  it('gc --older-than evicts results unused for that long; a hit keeps one', () => {
    const {cacheDir, hash} = fresh('gc-age')
    memo(cacheDir, '1')
    memo(cacheDir, '2')
    const [a, b] = resultFiles(cacheDir, hash).sort()
    const old = new Date(Date.now() - 3 * 86_400_000)
    for (const f of [a, b]) utimesSync(f, old, old)
    // a hit on input 1 marks its last use
    const keyOf1 = memoKey({hash, engine: 'v8', input: '1', limits: LIMITS})
    const hit = memo(cacheDir, '1')
    assert.deepEqual([hit.code, hit.stderr], [0, ''])
    const r = json(burn(['gc', '--older-than', '2d', '--json'], {cacheDir}))
    const evicted = r.actions.filter((x: {kind: string}) => x.kind.startsWith('evict'))
    const kept = join(cacheDir, 'results', hash.slice(0, 2), hash, keyOf1)
    const gone = [a, b].find((f) => f !== kept)!
    assert.deepEqual(
      evicted.map((x: {kind: string; path: string; done: boolean}) => [x.kind, x.path, x.done]),
      [['evict-result-age', gone.slice(cacheDir.length + 1), true]],
    )
    assert.deepEqual(resultFiles(cacheDir, hash), [kept])
  })

  it('gc --max-size evicts least recently used first, a result before a script of the same age', () => {
    const {cacheDir, hash} = fresh('gc-size')
    for (const input of ['1', '2', '3']) memo(cacheDir, input)
    const files = resultFiles(cacheDir, hash)
    const paths = ['1', '2', '3'].map((i) =>
      join(cacheDir, 'results', hash.slice(0, 2), hash, memoKey({hash, engine: 'v8', input: i, limits: LIMITS})),
    )
    assert.deepEqual([...paths].sort(), [...files].sort())
    // input 3's result is the oldest, then 1's; 2's is the newest
    const at = (f: string, secondsAgo: number) =>
      utimesSync(f, new Date(Date.now() - secondsAgo * 1000), new Date(Date.now() - secondsAgo * 1000))
    at(paths[2], 300)
    at(paths[0], 200)
    at(paths[1], 100)
    const plan = json(burn(['gc', '--dry-run', '--json', '--max-size', '1'], {cacheDir}))
    const evictions = plan.actions.filter((x: {kind: string}) => x.kind.startsWith('evict'))
    // the script (used at its last run, just now) goes after every result older than it; its results go with it
    assert.deepEqual(
      evictions.map((x: {kind: string; path: string}) => [x.kind, x.path]),
      [
        ['evict-result-size', paths[2].slice(cacheDir.length + 1)],
        ['evict-result-size', paths[0].slice(cacheDir.length + 1)],
        ['evict-result-size', paths[1].slice(cacheDir.length + 1)],
        ['evict-size', `objects/${hash.slice(0, 2)}/${hash}`],
      ],
    )
    // with room for the script and about one result, only the oldest result goes
    // (gc's own measure of the store, as its walk sees it before any removal)
    const before = json(burn(['gc', '--dry-run', '--json'], {cacheDir})).before.diskBytes
    // A real gc holds its lock file (one block, as one small result) while it measures: a budget
    // of the dry run's measure leaves room for the script and all but one result.
    assert.equal(statSync(paths[2]).blocks * 512, 4096)
    const r = json(burn(['gc', '--json', '--max-size', String(before)], {cacheDir}))
    assert.deepEqual(
      r.actions.filter((x: {kind: string}) => x.kind.startsWith('evict')).map((x: {kind: string; path: string}) => [x.kind, x.path]),
      [['evict-result-size', paths[2].slice(cacheDir.length + 1)]],
    )
    assert.equal(existsSync(paths[2]), false)
    assert.equal(memo(cacheDir, '1').stderr, '')
  })
})

describe('the v8 tag a memo hit reads from v8-tag.json (store/v8-tag-record.ts)', () => {
  it('is recorded by the first --memo call; a stale one still prints the stored result without running, and is corrected', () => {
    const {cacheDir} = fresh('tag-record')
    // (the run daemon allowed: a call the client does not answer itself starts one, which daemon/ then shows)
    const run = (env: Record<string, string> = {}) => burn(['run', 's', '--memo', '--input', '{"a":1}', ...T], {cacheDir, env})
    const daemonFiles = () => (existsSync(join(cacheDir, 'daemon')) ? readdirSync(join(cacheDir, 'daemon')) : [])
    const first = run(direct)
    assert.deepEqual([first.code, first.stderr], [0, 'ran\n'])
    const recordFile = join(cacheDir, 'v8-tag.json')
    const record = JSON.parse(readFileSync(recordFile, 'utf8')) as Record<string, string>
    const [[fingerprint, real]] = Object.entries(record)
    assert.match(real, new RegExp(`^v8-node${process.versions.node}-${process.arch}-[0-9a-f]+$`))
    // a record of the right shape, but not this Node's real tag (a host whose CPU changed under its name)
    writeFileSync(recordFile, JSON.stringify({[fingerprint]: `v8-node${process.versions.node}-${process.arch}-deadbeef`}))
    const runsBefore = counter(stats(cacheDir), 'runs.ok')
    const second = run()
    assert.deepEqual([second.code, second.stdout, second.stderr], [0, first.stdout, ''])
    assert.equal(counter(stats(cacheDir), 'runs.ok'), runsBefore)
    assert.deepEqual(daemonFiles(), [], 'answered by the client itself, with the real tag, not by a run daemon')
    assert.deepEqual(JSON.parse(readFileSync(recordFile, 'utf8')), {[fingerprint]: real})
    // a damaged record is no record: the hit computes the tag, and records it again
    writeFileSync(recordFile, '{"')
    const third = run()
    assert.deepEqual([third.code, third.stdout, third.stderr], [0, first.stdout, ''])
    assert.deepEqual(JSON.parse(readFileSync(recordFile, 'utf8')), {[fingerprint]: real})
    assert.deepEqual(daemonFiles(), [])
    assert.equal(burn(['verify'], {cacheDir}).code, 0)
  })

  it('is what the hit keys by: a result stored under the recorded tag is the one printed', async () => {
    const {cacheDir, hash} = fresh('tag-used')
    const first = burn(['run', 's', '--memo', '--input', '{"a":1}', ...T], {cacheDir, env: direct})
    assert.equal(first.code, 0, first.stderr)
    const recordFile = join(cacheDir, 'v8-tag.json')
    const [fingerprint] = Object.keys(JSON.parse(readFileSync(recordFile, 'utf8')) as object)
    // (what a host whose CPU changed under its name would hold: README, the `burn run --memo` figures)
    const recorded = `v8-node${process.versions.node}-${process.arch}-deadbeef`
    writeFileSync(recordFile, JSON.stringify({[fingerprint]: recorded}))
    const key = memoKey({hash, engine: 'v8', input: '{"a":2}', limits: LIMITS, tag: recorded})
    const file = join(cacheDir, 'results', hash.slice(0, 2), hash, key)
    writeFileSync(file, encodeResult({hash, key}, Buffer.from('{"stored":"under the recorded tag"}'), await loadXxh64()))
    const hit = burn(['run', 's', '--memo', '--input', '{"a":2}', ...T], {cacheDir, env: direct})
    assert.deepEqual([hit.code, hit.stdout, hit.stderr], [0, '{"stored":"under the recorded tag"}\n', ''])
  })

  it('spares a hit loading node:crypto and node:v8 (their streams stack), once the tag is recorded', () => {
    const {cacheDir} = fresh('tag-modules')
    const list = join(dir, 'tag-modules-list.txt')
    const preload = writeScript(
      join(dir, 'tag-modules-src'),
      'list.cjs',
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')))\n`,
    )
    // (the preload is part of NODE_OPTIONS, so of the fingerprint: the first call records under it)
    const env = {...direct, NODE_OPTIONS: `--require ${preload}`}
    const run = () => burn(['run', 's', '--memo', '--input', '{"a":1}', ...T], {cacheDir, env})
    assert.equal(run().code, 0)
    const hit = run()
    assert.deepEqual([hit.code, hit.stderr], [0, ''])
    const loaded = readFileSync(list, 'utf8').split('\n')
    assert.deepEqual(
      ['NativeModule crypto', 'NativeModule v8', 'NativeModule stream'].filter((m) => loaded.includes(m)),
      [],
    )
    assert.ok(loaded.includes('NativeModule fs/promises'), 'the list is of the process that answered')
  })
})
