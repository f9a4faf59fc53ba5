import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {test} from 'node:test'
import {burn, burnAsync, stats, tmp, writeScript, type Result} from '../helpers.js'
import {compiledPath, currentTag, objectPath, sha} from '../fixtures/store.js'
import {NO_REMOTE, startRedis, type RedisServer} from '../fixtures/redis.js'

// The shared remote cache from `burn run`'s flags and through the run daemon (issue 16):
// --remote and --remote-mode on both of run's paths, the run daemon's cooldown after a remote
// failed, and register and batch fetching from the remote. Real redis-server
// (test/fixtures/redis.ts); two machines are two cache dirs.

const KEY = 'test-signing-key'
const SRC1 = 'module.exports = (x) => ({one: x})\n'
const SRC2 = 'module.exports = (x) => ({two: x})\n'
const SRC3 = 'module.exports = (x) => ({three: x})\n'
const LOCAL = 'module.exports = (x) => ({local: x})\n'
const [H1, H2, H3, HL] = [SRC1, SRC2, SRC3, LOCAL].map(sha)
const LONG = 120_000

function rb(args: string[], cacheDir: string, env: Record<string, string | undefined> = {}): Result {
  return burn(args, {cacheDir, env: {BURN_DAEMON: 'off', ...NO_REMOTE, ...env}, timeoutMs: LONG})
}

/** Through the run daemon, or exit 1 saying why not (BURN_DAEMON=require). */
function viaDaemon(args: string[], cacheDir: string, env: Record<string, string | undefined> = {}): Result {
  return burn(args, {cacheDir, env: {...NO_REMOTE, ...env, BURN_DAEMON: 'require'}, timeoutMs: LONG})
}

const notFound = (ref: string) =>
  `Error: no script matches ${JSON.stringify(ref)}; \`burn list\` shows what is registered, \`burn register <file>\` adds one\n`
const warning = (url: string, why: string) => `burn: remote cache ${url} is unavailable (${why}); going on with the local cache only\n`
const cooling = (url: string, left: string, why: string) =>
  `burn: remote cache ${url} is not asked for ${left} s more: it failed for an earlier call (${why}); going on with the local cache only\n`
const runJson = (hash: string, cache: string, result: unknown) => JSON.stringify({hash, cache, result}) + '\n'

function verifyClean(cacheDir: string): void {
  const v = rb(['verify'], cacheDir)
  assert.equal(v.code, 0, v.stdout + v.stderr)
}

/** Cache dir A registered SRC1 (name one), SRC2 (two) and SRC3 (three), published to `server` with the key. */
function warm(server: RedisServer): string {
  const A = tmp()
  const files = tmp()
  for (const [src, name] of [
    [SRC1, 'one'],
    [SRC2, 'two'],
    [SRC3, 'three'],
  ]) {
    const r = rb(['register', writeScript(files, `${name}.js`, src), '--name', name], A, {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY})
    assert.deepEqual([r.code, r.stderr], [0, ''])
  }
  return A
}

/** A cache dir with a store of its own (one local script) and no remote: the run daemon starts only for a store. */
function localStore(): string {
  const d = tmp()
  const r = rb(['register', writeScript(tmp(), 'local.js', LOCAL)], d)
  assert.equal(r.code, 0, r.stderr)
  return d
}

test('--remote on burn run: fetched on the direct path and through the run daemon, A bytes, no compile', async () => {
  const server = await startRedis()
  const A = warm(server)
  const withKey = {BURN_REMOTE_KEY: KEY}
  const B = tmp()
  const b = rb(['run', H1, '--remote', server.url, '--input', '{"a":1}', '--json'], B, withKey)
  assert.deepEqual([b.code, b.stdout, b.stderr], [0, runJson(H1, 'hit', {one: {a: 1}}), ''])
  const D = localStore()
  const d = viaDaemon(['run', 'two', '--remote', server.url, '--input', '{"a":2}'], D, withKey)
  assert.deepEqual([d.code, d.stdout, d.stderr], [0, '{"two":{"a":2}}\n', ''])
  // (D compiled its own local script once)
  for (const [dir, hash, compiles] of [
    [B, H1, 0],
    [D, H2, 1],
  ] as const) {
    assert.deepEqual(readFileSync(objectPath(dir, hash)), readFileSync(objectPath(A, hash)))
    const s = stats(dir)
    assert.deepEqual([s.compiles ?? 0, s['remote.hits'], s['remote.rejected']], [compiles, 1, undefined])
    verifyClean(dir)
  }
})

test('a call with another --remote is not served by the run daemon of the first; --remote-mode off never connects', async () => {
  const warmed = await startRedis()
  const empty = await startRedis()
  warm(warmed)
  const D = localStore()
  // the daemon of the empty remote answers first: a miss there, with no warning
  const miss = viaDaemon(['run', H1, '--remote', empty.url, '--input', '1'], D)
  assert.deepEqual([miss.code, miss.stdout, miss.stderr], [3, '', notFound(H1)])
  const hit = viaDaemon(['run', H1, '--remote', warmed.url, '--input', '1'], D)
  assert.deepEqual([hit.code, hit.stdout, hit.stderr], [0, '{"one":1}\n', ''])
  // the flag overrides BURN_REMOTE, on both paths
  const env = {BURN_REMOTE: empty.url}
  const flagWins = viaDaemon(['run', H2, '--remote', warmed.url, '--input', '2'], D, env)
  assert.deepEqual([flagWins.code, flagWins.stdout, flagWins.stderr], [0, '{"two":2}\n', ''])
  const before = await warmed.connections()
  for (const run of [rb, viaDaemon]) {
    const off = run(['run', H3, '--remote-mode', 'off', '--input', '3'], D, {BURN_REMOTE: warmed.url})
    assert.deepEqual([off.code, off.stdout, off.stderr], [3, '', notFound(H3)], run.name)
  }
  assert.equal(await warmed.connections(), before)
  const s = stats(D)
  assert.deepEqual([s['remote.hits'], s['remote.misses'], s['remote.errors']], [2, 1, undefined])
  // a mode that is none of the three is oclif's usage error, as for register
  const bad = rb(['run', H1, '--remote-mode', 'sometimes'], D)
  assert.deepEqual(
    [bad.code, bad.stdout, bad.stderr],
    [
      2,
      '',
      ' ›   Error: Expected --remote-mode=sometimes to be one of: read-write, \n ›   read-only, off\n ›   See more help with --help\n',
    ],
  )
  verifyClean(D)
})

test('a password in --remote never shows: not in the warning, not under --json, not in stats', async () => {
  const server = await startRedis({tcp: true, password: 'right-password'})
  const url = `redis://burnuser:pw-Secret-123@127.0.0.1:${server.port}`
  const shown = `redis://burnuser:***@127.0.0.1:${server.port}`
  const D = localStore()
  const why = 'WRONGPASS invalid username-password pair or user is disabled.'
  for (const run of [rb, viaDaemon]) {
    for (const json of [[], ['--json']]) {
      const r = run(['run', H1, '--remote', url, '--input', '1', ...json], D)
      const err = json.length ? '' : notFound(H1)
      const out = json.length
        ? JSON.stringify({error: {code: 3, kind: 'notFound', message: notFound(H1).slice(7, -1), ref: H1}}) + '\n'
        : ''
      // the daemon's second call is in its cooldown (says so, with the same redacted URL)
      const left = /not asked for (\d+) s more/.exec(r.stderr)?.[1] ?? '?'
      const said = run === viaDaemon && json.length ? cooling(shown, left, why) : warning(shown, why)
      assert.deepEqual([r.code, r.stdout, r.stderr], [3, out, said + err], `${run.name} ${json}`)
      if (said !== warning(shown, why)) assert.ok(Number(left) >= 1 && Number(left) <= 30, left)
      assert.doesNotMatch(r.stdout + r.stderr, /pw-Secret-123/)
    }
  }
  const st = rb(['stats', '--json'], D)
  assert.doesNotMatch(st.stdout + st.stderr, /pw-Secret-123/)
  assert.deepEqual([JSON.parse(st.stdout).counters['remote.errors'], JSON.parse(st.stdout).counters['remote.skipped']], [3, 1])
})

/** Milliseconds `fn` took. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = Date.now()
  const r = await fn()
  return [r, Date.now() - t0]
}

test('the run daemon cools down after a remote failed: calls during it do not wait and say why; after it the remote is used', async () => {
  const server = await startRedis({tcp: true})
  warm(server)
  const D = localStore()
  const COOLDOWN_MS = 12_000
  const env = {...NO_REMOTE, BURN_DAEMON: 'require', BURN_REMOTE: server.url, BURN_REMOTE_TIMEOUT: '6s', BURN_REMOTE_COOLDOWN: '12s'}
  const call = (ref: string) => burnAsync(['run', ref, '--input', '1'], {cacheDir: D, env})
  // the daemon is up (a local hit: the remote is never asked)
  const first = await call(HL)
  assert.deepEqual([first.code, first.stdout, first.stderr], [0, '{"local":1}\n', ''])
  // stopped (SIGSTOP): it accepts connections and never answers
  server.process.kill('SIGSTOP')
  let failedAt: number
  let s: Record<string, number>
  try {
    const [failed, waited] = await timed(() => call(H1))
    failedAt = Date.now()
    assert.deepEqual(
      [failed.code, failed.stdout, failed.stderr],
      [3, '', warning(server.url, 'no answer within 6500 ms (connecting)') + notFound(H1)],
    )
    assert.ok(waited >= 6000, `the failing call waited ${waited} ms`)
    for (const ref of [H2, H3]) {
      const [r, took] = await timed(() => call(ref))
      assert.equal(r.code, 3, r.stderr)
      assert.equal(r.stdout, '')
      const left = /not asked for (\d+) s more/.exec(r.stderr)?.[1] ?? '?'
      assert.equal(r.stderr, cooling(server.url, left, 'no answer within 6500 ms (connecting)') + notFound(ref))
      assert.ok(Number(left) >= 1 && Number(left) <= 12, r.stderr)
      // bounded: far below the 6 s a call that asked the stopped server would wait
      assert.ok(took < 5000, `a call during the cooldown took ${took} ms`)
    }
    // (the calls above must have fallen inside the cooldown for this test to mean anything)
    assert.ok(Date.now() - failedAt < COOLDOWN_MS - 1000, `the cooldown calls ended ${Date.now() - failedAt} ms after the failure`)
    s = stats(D)
    assert.deepEqual([s['remote.errors'], s['remote.skipped'], s['remote.hits']], [1, 2, undefined])
  } finally {
    // (a failed assertion must not leave a stopped server, which the fixture's stop() would wait on forever)
    server.process.kill('SIGCONT')
  }
  // restarted: the stopped server goes, a new one takes its port, and is warmed again
  await server.stop()
  const again = await startRedis({port: server.port})
  warm(again)
  const wait = failedAt + COOLDOWN_MS + 1000 - Date.now()
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  const back = await call(H1)
  assert.deepEqual([back.code, back.stdout, back.stderr], [0, '{"one":1}\n', ''])
  s = stats(D)
  assert.deepEqual([s['remote.errors'], s['remote.skipped'], s['remote.hits']], [1, 2, 1])
  verifyClean(D)
})

test('burn register fetches a compiled form the remote holds instead of compiling it, checked as a run checks it', async () => {
  const server = await startRedis()
  const A = warm(server)
  const tag = currentTag(A)
  const file = writeScript(tmp(), 'one.js', SRC1)
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const B = tmp()
  const b = rb(['register', file], B, env)
  assert.deepEqual([b.code, b.stdout, b.stderr], [0, `${H1}  fetched   -  ${file}\n`, ''])
  // the artifact inside A's seal, byte for byte: A's own compiled form
  assert.deepEqual(readFileSync(compiledPath(B, tag, H1)), readFileSync(compiledPath(A, tag, H1)))
  let s = stats(B)
  assert.deepEqual([s.compiles, s['register.misses'], s['remote.hits'], s['remote.rejected']], [0, 1, 1, undefined])
  const run = rb(['run', H1, '--input', '5', '--json'], B)
  assert.deepEqual([run.code, run.stdout, run.stderr], [0, runJson(H1, 'hit', {one: 5}), ''])
  // --json says so too; the remote's name is not needed (the file is here)
  const C = tmp()
  const c = rb(['register', writeScript(tmp(), 'two.js', SRC2), '--json', '--remote', server.url], C, {BURN_REMOTE_KEY: KEY})
  assert.equal(c.code, 0, c.stderr)
  assert.deepEqual(
    JSON.parse(c.stdout).results.map((r: {hash: string; status: string; compileMs: number}) => [r.hash, r.status, r.compileMs]),
    [[H2, 'fetched', 0]],
  )
  assert.equal(stats(C).compiles, 0)
  // no key: a v8 form is never used unsealed, so register compiles (and nothing is counted as rejected)
  const N = tmp()
  const n = rb(['register', file], N, {BURN_REMOTE: server.url})
  assert.deepEqual([n.code, n.stdout, n.stderr], [0, `${H1}  compiled  -  ${file}\n`, ''])
  s = stats(N)
  assert.deepEqual([s.compiles, s['remote.hits'], s['remote.rejected']], [1, undefined, undefined])
  // a damaged value (one byte flipped) or another source's form: rejected, counted, compiled here instead
  const orig = (await server.get(`burn:cc:${tag}:${H1}`))!
  const flipped = Buffer.from(orig)
  flipped[flipped.length >> 1] ^= 1
  for (const [what, value] of [
    ['flipped', flipped],
    ['swapped', (await server.get(`burn:cc:${tag}:${H3}`))!],
  ] as const) {
    await server.call('SET', `burn:cc:${tag}:${H1}`, value)
    const R = tmp()
    const r = rb(['register', file], R, env)
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${H1}  compiled  -  ${file}\n`, ''], what)
    s = stats(R)
    assert.deepEqual([s.compiles, s['remote.hits'], s['remote.rejected']], [1, undefined, 1], what)
    const ok = rb(['run', H1, '--input', '6'], R)
    assert.deepEqual([ok.code, ok.stdout], [0, '{"one":6}\n'], what)
    verifyClean(R)
  }
  for (const d of [B, C, N]) verifyClean(d)
})

const BATCH = 'module.exports = (rows) => rows.map((r) => ({four: r}))\n'
const H4 = sha(BATCH)

test('burn batch on a script that is not here fetches it from the remote, by hash or by name, as run does', async () => {
  const server = await startRedis()
  const A = tmp()
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const reg = rb(['register', writeScript(tmp(), 'four.js', BATCH), '--name', 'four'], A, env)
  assert.deepEqual([reg.code, reg.stderr], [0, ''])
  const rows = '1\n{"a":2}\n'
  const want = '{"four":1}\n{"four":{"a":2}}\n'
  // a cache dir with no store at all, and one with a store of its own (by name)
  const B = tmp()
  const D = localStore()
  for (const [dir, ref] of [
    [B, H4],
    [D, 'four'],
  ]) {
    const r = burn(['batch', ref], {cacheDir: dir, input: rows, env: {...NO_REMOTE, ...env}, timeoutMs: LONG})
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, want, ''], ref)
    assert.deepEqual(readFileSync(objectPath(dir, H4)), Buffer.from(BATCH))
    const s = stats(dir)
    assert.deepEqual([s.compiles ?? 0, s['remote.hits'], s['remote.rejected']], [dir === D ? 1 : 0, 1, undefined], ref)
    // the next batch is a local hit: the remote is gone and never asked
    verifyClean(dir)
  }
  await server.stop()
  const again = burn(['batch', 'four'], {cacheDir: D, input: rows, env: {...NO_REMOTE, ...env}, timeoutMs: LONG})
  assert.deepEqual([again.code, again.stdout, again.stderr], [0, want, ''])
  // a miss everywhere: run's error, after the remote's one warning
  const miss = burn(['batch', H1], {cacheDir: tmp(), input: rows, env: {...NO_REMOTE, ...env}, timeoutMs: LONG})
  assert.deepEqual([miss.code, miss.stdout], [3, ''])
  assert.equal(miss.stderr, warning(server.url, `connect ENOENT ${server.socket}`) + notFound(H1))
})
