import assert from 'node:assert/strict'
import {readdirSync, readFileSync, chmodSync} from 'node:fs'
import {after, before, describe, it} from 'node:test'
import {burn, json, register, stats, tmp, writeScript} from '../helpers.js'
import type * as Api from '../../src/api/index.js'
import {DEPTH} from '../../src/api/warm-pool.js'

// The library API through the built package entry (package.json "exports"), in this process, as a
// user's program imports it: `import {openCache} from 'burn-cli'`.
const {openCache, BurnError} = (await import('burn-cli' as string)) as typeof Api

/** This process's child processes (runners; setpriv execs node in place, so a runner is one pid). */
function children(): number[] {
  const out: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) out.push(Number(p))
    } catch {
      // gone meanwhile
    }
  }
  return out.sort()
}

/** The BurnError a promise rejects with (anything else fails the test). */
async function rejection(p: Promise<unknown>): Promise<Api.BurnError> {
  try {
    await p
  } catch (error) {
    assert.ok(error instanceof BurnError, `not a BurnError: ${String(error)}`)
    return error
  }
  assert.fail('expected a rejection')
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const S = {
  echo: 'module.exports = (x) => ({got: x})',
  counter: 'let n = 0\nmodule.exports = () => ++n',
  sleepy: 'module.exports = (ms) => new Promise((r) => setTimeout(() => r(ms), ms))',
  thrower: 'module.exports = () => { throw new TypeError("bad row") }',
  loop: 'module.exports = () => { for (;;) {} }',
  bomb: 'module.exports = () => { const k = []; for (;;) k.push(new Uint8Array(1 << 20).fill(1)) }',
  big: 'module.exports = () => "y".repeat(2000)',
  bigint: 'module.exports = () => 10n',
  rows: 'module.exports = (rows) => rows.map((r) => r * 10)',
  late: 'module.exports = (x) => { if (x.t) setTimeout(() => { throw new Error("late") }, 0); return new Promise((r) => setTimeout(() => r(x.a), 50)) }',
}

describe('the library API', {timeout: 600_000}, () => {
  // (made here, not in before(): tmp() removes its directory when the test that made it ends)
  const dir = tmp('burn-api-')
  const openDir = tmp('burn-api-store-')
  let cache: Api.BurnCache
  const before0 = children()

  before(async () => {
    cache = await openCache({cacheDir: dir, concurrency: 2})
    for (const [name, source] of Object.entries(S)) await cache.register({source}, {name})
  })
  after(async () => {
    await cache.close()
  })

  it('runs a script the CLI registered, and the CLI runs one the API registered, in the same store', async () => {
    const file = writeScript(tmp(), 'double.js', 'module.exports = (x) => x * 2')
    const hash = register(dir, file, ['--name', 'double'])
    assert.equal(await cache.run('double', 21), 42)
    assert.equal(await cache.run(hash.slice(0, 8), 5), 10)
    assert.equal(await cache.runJson(hash, '7'), '14')
    const reg = await cache.register({source: 'module.exports = (x) => x + "!"'}, {name: 'bang'})
    assert.equal(reg.status, 'compiled')
    const r = burn(['run', 'bang', '--input', '"hi"'], {cacheDir: dir, env: {BURN_DAEMON: 'off'}})
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '"hi!"\n', ''])
    const shown = await cache.show('bang')
    assert.deepEqual([shown.hash, shown.names, shown.source], [reg.hash, ['bang'], 'module.exports = (x) => x + "!"'])
    assert.ok((await cache.list()).some((s) => s.hash === reg.hash && s.names[0] === 'bang'))
    // forget through the API: the CLI sees it gone, and so does the API's next call (exit 3)
    assert.deepEqual(await cache.forget('bang'), {ref: 'bang', hash: reg.hash, removed: true, names: ['bang']})
    assert.equal(burn(['run', 'bang'], {cacheDir: dir, env: {BURN_DAEMON: 'off'}}).code, 3)
    assert.equal((await rejection(cache.run('bang', 'x'))).code, 3)
    // and a forget through the CLI is seen by the API's next call, though it kept a resolution
    assert.equal(burn(['forget', 'double'], {cacheDir: dir}).code, 0)
    assert.equal((await rejection(cache.run('double', 1))).code, 3)
  })

  it('sees at its next call a script another process forgot, though it resolved it a moment ago', async () => {
    const other = await openCache({cacheDir: dir})
    const {hash} = await cache.register({source: 'module.exports = () => "short-lived"'})
    assert.equal(await cache.run(hash), 'short-lived')
    await other.forget(hash)
    const e = await rejection(cache.run(hash))
    await other.close()
    assert.deepEqual([e.code, e.kind], [3, 'notFound'])
  })

  it('counts its calls in the shared counters; stats, verify and gc see the same store as the CLI', async () => {
    await cache.run('echo', 1)
    await rejection(cache.run('thrower', 1))
    const s = await cache.stats()
    assert.ok((s!.counters['api.ok'] ?? 0) >= 1 && (s!.counters['api.script'] ?? 0) >= 1)
    assert.equal(stats(dir)['api.script'], s!.counters['api.script'])
    const v = await cache.verify()
    assert.deepEqual([v!.clean, v!.damage], [true, 0])
    const g = await cache.gc({dryRun: true})
    assert.equal(g!.dryRun, true)
    assert.deepEqual(json(burn(['verify', '--json'], {cacheDir: dir})).clean, true)
  })

  it('rejects with one BurnError class: the CLI exit code, kind and message of each error', async () => {
    const cli = (args: string[]) => burn(args, {cacheDir: dir, env: {BURN_DAEMON: 'off'}})
    const cases: Array<[string, () => Promise<unknown>, number, string, string[] | undefined]> = [
      ['usage', () => cache.run('not a ref!', 1), 2, 'usage', ['run', 'not a ref!']],
      ['bad limit', () => cache.run('echo', 1, {timeout: 'soon'}), 2, 'usage', ['run', 'echo', '--timeout', 'soon']],
      ['not found', () => cache.run('nothing-here', 1), 3, 'notFound', ['run', 'nothing-here']],
      ['compile', () => cache.register({source: 'module.exports = (', file: 'broken.js'}), 4, 'compile', undefined],
      ['script', () => cache.run('thrower', 1), 5, 'scriptError', ['run', 'thrower', '--input', '1']],
      ['limit', () => cache.run('loop', 1, {timeout: 300}), 6, 'limit', ['run', 'loop', '--timeout', '300']],
      ['bad data (input)', () => cache.runJson('echo', '{nope'), 7, 'badData', ['run', 'echo', '--input', '{nope']],
      ['bad data (result)', () => cache.run('bigint', 1), 7, 'badData', ['run', 'bigint', '--input', '1']],
    ]
    for (const [what, p, code, kind, args] of cases) {
      const e = await rejection(p())
      assert.deepEqual([what, e.code, e.kind], [what, code, kind])
      if (kind === 'compile') assert.equal(e.message, 'broken.js:1: SyntaxError: Unexpected end of input')
      if (args) {
        const r = cli(args)
        assert.deepEqual([what, r.code, r.stderr], [what, code, `Error: ${e.message}\n`])
      }
    }
    // a cache-wide --fuel on a v8 script is refused as a call's own is, never silently dropped
    const fuelled = await openCache({cacheDir: dir, concurrency: 1, limits: {fuel: 1000}})
    const ef = await rejection(fuelled.run('echo', 1))
    await fuelled.close()
    assert.deepEqual([ef.code, ef.kind], [2, 'usage'])
    assert.equal(cli(['run', 'echo', '--input', '1', '--fuel', '1000']).stderr, `Error: ${ef.message}\n`)
    // a store another user could write to is refused, as by every command (exit 8)
    const open = openDir
    const c2 = await openCache({cacheDir: open})
    await c2.register({source: S.echo})
    await c2.close()
    chmodSync(open, 0o777)
    const e8 = await rejection(openCache({cacheDir: open}))
    assert.deepEqual([e8.code, e8.kind], [8, 'store'])
    assert.equal(burn(['list'], {cacheDir: open}).stderr, `Error: ${e8.message}\n`)
    chmodSync(open, 0o700)
  })

  it('applies limits per call: a loop, a memory bomb and an oversized result fail alone, the pool stays healthy', async () => {
    const loop = await rejection(cache.run('loop', null, {timeout: 400}))
    assert.deepEqual([loop.code, loop.message], [6, 'timeout: the script ran longer than --timeout 400ms'])
    const bomb = await rejection(cache.run('bomb', null, {memory: '64MiB'}))
    assert.deepEqual([bomb.code, bomb.message], [6, 'memory limit exceeded: the script used more than --memory 64MiB'])
    const big = await rejection(cache.run('big', null, {maxOutput: 1000}))
    assert.deepEqual([big.code, big.message], [6, 'result is 2002 bytes, over --max-output 1000 bytes'])
    // the same scripts under the default limits, and others, still answer
    assert.equal(await cache.run('big', null), 'y'.repeat(2000))
    assert.deepEqual(await cache.run('echo', 'after'), {got: 'after'})
    const all = await Promise.all(Array.from({length: 8}, (_, i) => cache.run('echo', i)))
    assert.deepEqual(
      all,
      Array.from({length: 8}, (_, i) => ({got: i})),
    )
  })

  it('gives 64 concurrent callers exactly their own results', async () => {
    const inputs = Array.from({length: 64}, (_, i) => ({caller: i, payload: 'p'.repeat(i)}))
    const results = await Promise.all(inputs.map((x, i) => (i % 2 ? cache.run('echo', x) : cache.runJson('echo', JSON.stringify(x)))))
    assert.deepEqual(
      results,
      inputs.map((x, i) => (i % 2 ? {got: x} : JSON.stringify({got: x}))),
    )
  })

  it('keeps a module instance per runner by default; isolation "call" gives every call a fresh one', async () => {
    const warm = await openCache({cacheDir: dir, concurrency: 1})
    const seq = [await warm.run('counter'), await warm.run('counter'), await warm.run('counter')]
    await warm.close()
    assert.deepEqual(seq, [1, 2, 3])
    const fresh = await openCache({cacheDir: dir, concurrency: 1, isolation: 'call'})
    const calls = [await fresh.run('counter'), await fresh.run('counter'), await fresh.run('counter')]
    const e = await rejection(fresh.run('loop', null, {timeout: 300}))
    await fresh.close()
    assert.deepEqual([...calls, e.code], [1, 1, 1, 6])
  })

  it('batch: results in order, rows pulled only as results are consumed, a failed chunk named', async () => {
    let pulled = 0
    function* rows() {
      for (let i = 1; i <= 1000; i++) {
        pulled++
        yield i
      }
    }
    const it1 = cache.batch<number>('rows', rows(), {chunkSize: 10, window: 2})
    const first = await it1.next()
    assert.deepEqual(first, {done: false, value: 10})
    assert.ok(pulled <= 30, `pulled ${pulled} rows for one result`)
    await it1.return?.()
    const out: number[] = []
    async function* slow() {
      for (let i = 0; i < 25; i++) yield i
    }
    for await (const v of cache.batch<number>('rows', slow(), {chunkSize: 4})) out.push(v)
    assert.deepEqual(
      out,
      Array.from({length: 25}, (_, i) => i * 10),
    )
    const e = await rejection(
      (async () => {
        for await (const v of cache.batch('echo', [1, 2, 3], {chunkSize: 2})) void v
      })(),
    )
    assert.deepEqual([e.code, e.message], [7, 'chunk 1 (rows 1-2): script must return an array; got object'])
  })

  it('refuses a call past maxInFlight at once, with a clear error, and runs the admitted ones', async () => {
    const small = await openCache({cacheDir: dir, concurrency: 1, maxInFlight: 3})
    const admitted = [small.run('sleepy', 300), small.run('sleepy', 300), small.run('sleepy', 300)]
    const e = await rejection(small.run('sleepy', 1))
    assert.deepEqual(
      [e.code, e.kind, e.message, e.data.limit],
      [6, 'limit', 'too many calls in flight: 3 already wait or run (maxInFlight); await some of them before making more', 'in-flight'],
    )
    assert.deepEqual(await Promise.all(admitted), [300, 300, 300])
    assert.equal(await small.run('sleepy', 1), 1)
    await small.close()
  })

  it('close() lets started calls finish, refuses the rest with a typed error, and leaves no process behind', async () => {
    const before1 = children()
    const c = await openCache({cacheDir: dir, concurrency: 1})
    await c.run('echo', 0)
    assert.ok(children().length > before1.length, 'a runner is up')
    // 1 runner takes DEPTH calls at once; as many more wait in the pool and never start
    const calls = Array.from({length: 2 * DEPTH}, (_, i) =>
      c.run('sleepy', 200 + i).then(
        (v) => ({ok: v}),
        (e: Api.BurnError) => ({code: e.code, message: e.message}),
      ),
    )
    // Once the first call ended, the next DEPTH are in the runner (the pool sends the next as one
    // ends) and the rest wait; a fixed sleep instead refused every call on a loaded machine,
    // where resolving the script had not even finished.
    assert.deepEqual(await calls[0], {ok: 200})
    const closing = c.close()
    const during = await rejection(c.run('echo', 1))
    const settled = await Promise.all(calls)
    await closing
    // at once: close() resolves only after every runner it started has exited (and been reaped)
    assert.deepEqual(children(), before1, 'close() resolved while a runner process was still there')
    const closedMsg = 'the cache is closed: no call runs after close(); open another with openCache()'
    assert.deepEqual(settled, [
      ...Array.from({length: DEPTH + 1}, (_, i) => ({ok: 200 + i})),
      ...Array.from({length: DEPTH - 1}, () => ({code: 2, message: closedMsg})),
    ])
    assert.deepEqual([during.code, during.kind, during.message], [2, 'usage', closedMsg])
    for (const p of [
      () => c.run('echo', 1),
      () => c.runJson('echo', '1'),
      () => c.register({source: S.echo}),
      () => c.list(),
      () => c.stats(),
    ]) {
      const e = await rejection(p())
      assert.deepEqual([e.code, e.message], [2, closedMsg])
    }
    await c.close()
    assert.deepEqual(children(), before1)
  })

  it('a runner killed with SIGKILL mid-call rejects that call; the next call succeeds', async () => {
    const c = await openCache({cacheDir: dir, concurrency: 1})
    const mine = new Set(children())
    await c.run('echo', 0)
    const runner = children().filter((p) => !mine.has(p))
    assert.equal(runner.length, 1)
    const call = c.run('sleepy', 5000)
    await sleep(300)
    process.kill(runner[0], 'SIGKILL')
    const e = await rejection(call)
    assert.deepEqual([e.code, e.kind], [6, 'limit'])
    assert.deepEqual(await c.run('echo', 'next'), {got: 'next'})
    await c.close()
  })

  it('a timer that throws fails its own call only: the calls queued behind it on that runner run on another', async () => {
    const c = await openCache({cacheDir: dir, concurrency: 1})
    after(() => c.close())
    await c.run('late', {a: 0})
    // (one runner: calls 3 and 4 wait in its queue behind call 2, whose timer throws, and the runner then exits)
    const calls = [1, 2, 3, 4].map((a) => c.run('late', {a, t: a === 2}))
    const got = await Promise.allSettled(calls)
    assert.deepEqual(
      got.map((r) =>
        r.status === 'fulfilled' ? r.value : `${(r.reason as Api.BurnError).code} ${(r.reason as Error).message.split('\n')[0]}`,
      ),
      [1, '5 Error: late', 3, 4],
    )
  })

  it('leaves no child process once every cache is closed', async () => {
    await cache.close()
    const left = children().filter((p) => !before0.includes(p))
    assert.deepEqual(
      left.map((p) => readFileSync(`/proc/${p}/cmdline`, 'latin1')),
      [],
    )
  })
})
