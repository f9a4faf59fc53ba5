import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'
import {burn, burnAsync, stats, tmp, writeScript, type Result} from '../helpers.js'
import {compiledPath, currentTag, objectPath, sha} from '../fixtures/store.js'
import {bigScript, freePort, NO_REMOTE, startRedis} from '../fixtures/redis.js'
import {encodeArtifact, decodeArtifact} from '../../src/engines/artifact.js'
import {sealCompiled} from '../../src/store/remote/signing.js'
import {loadXxh64} from '../../src/util/hash.js'

// The shared remote cache (issue 16) against a real redis-server (test/fixtures/redis.ts):
// two machines are two cache dirs; a hostile remote is the test writing its values.

const KEY = 'test-signing-key'
const SRC1 = 'module.exports = (x) => ({one: x})\n'
const SRC2 = 'module.exports = (x) => ({two: x})\n' // same length as SRC1
const H1 = sha(SRC1)
const H2 = sha(SRC2)

function rb(args: string[], cacheDir: string, env: Record<string, string | undefined> = {}): Result {
  return burn(args, {cacheDir, env: {BURN_DAEMON: 'off', ...NO_REMOTE, ...env}, timeoutMs: 120_000})
}

const notFound = (ref: string) =>
  `Error: no script matches ${JSON.stringify(ref)}; \`burn list\` shows what is registered, \`burn register <file>\` adds one\n`
const warning = (url: string, why: string) => `burn: remote cache ${url} is unavailable (${why}); going on with the local cache only\n`
const runJson = (hash: string, cache: string, result: unknown) => JSON.stringify({hash, cache, result}) + '\n'

function verifyClean(cacheDir: string): void {
  const v = rb(['verify'], cacheDir)
  assert.equal(v.code, 0, v.stdout + v.stderr)
}

/** A cache dir A that registered SRC1 (name one) and SRC2 (name two), published with the key. */
async function warmRemote(extra: Record<string, string> = {}) {
  const server = await startRedis(extra.tcp ? {tcp: true} : {})
  const remote = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const A = tmp()
  const files = tmp()
  for (const [src, name] of [
    [SRC1, 'one'],
    [SRC2, 'two'],
  ]) {
    const r = rb(['register', writeScript(files, `${name}.js`, src), '--name', name], A, remote)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
  }
  return {server, remote, A, tag: currentTag(A)}
}

test('two cache dirs share one server: A registers, B runs by hash and C by name with A bytes and no compile; then local hits', async () => {
  const {server, remote, A, tag} = await warmRemote()
  assert.deepEqual(
    await server.keys(),
    [
      `burn:cc:${tag}:${H1}`,
      `burn:cc:${tag}:${H2}`,
      `burn:eng:${H1}`,
      `burn:eng:${H2}`,
      'burn:name:one',
      'burn:name:two',
      `burn:src:${H1}`,
      `burn:src:${H2}`,
    ].sort(),
  )
  const B = tmp()
  const C = tmp()
  const b = rb(['run', H1, '--input', '{"a":1}', '--json'], B, remote)
  assert.deepEqual([b.code, b.stdout, b.stderr], [0, runJson(H1, 'hit', {one: {a: 1}}), ''])
  const c = rb(['run', 'one', '--input', '{"a":2}'], C, remote)
  assert.deepEqual([c.code, c.stdout, c.stderr], [0, '{"one":{"a":2}}\n', ''])
  // fetched ahead of time, before a run upgrades its code cache: A's compiled bytes exactly
  const P = tmp()
  assert.equal(rb(['pull', H1], P, remote).code, 0)
  assert.deepEqual(readFileSync(compiledPath(P, tag, H1)), readFileSync(compiledPath(A, tag, H1)))
  for (const d of [B, C]) {
    assert.deepEqual(readFileSync(objectPath(d, H1)), readFileSync(objectPath(A, H1)))
    const s = stats(d)
    assert.equal(s.compiles, 0)
    assert.equal(s['remote.hits'], 1)
    assert.equal(s['remote.rejected'], undefined)
  }
  assert.equal(readFileSync(join(C, 'names', 'one'), 'utf8'), H1 + '\n')
  await server.stop()
  // the remote is gone: a local hit never asks it (no warning), by hash and by name
  const again = rb(['run', H1, '--input', '{"a":3}', '--json'], B, remote)
  assert.deepEqual([again.code, again.stdout, again.stderr], [0, runJson(H1, 'hit', {one: {a: 3}}), ''])
  const byName = rb(['run', 'one', '--input', '{"a":4}'], C, remote)
  assert.deepEqual([byName.code, byName.stdout, byName.stderr], [0, '{"one":{"a":4}}\n', ''])
  verifyClean(B)
  verifyClean(C)
})

test('through the run daemon the same fetch happens (the runner inherits the daemon environment, keyed by BURN_REMOTE*)', async () => {
  const {remote} = await warmRemote()
  const D = tmp()
  assert.equal(rb(['register', writeScript(tmp(), 'x.js', 'module.exports = 1\n')], D).code, 0)
  const r = burn(['run', H2, '--input', '"z"'], {cacheDir: D, env: {...NO_REMOTE, ...remote, BURN_DAEMON: 'require'}, timeoutMs: 120_000})
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '{"two":"z"}\n', ''])
  assert.equal(stats(D)['remote.hits'], 1)
})

test('a hostile remote: every damaged or swapped value is rejected and counted, never a wrong result, the local store clean', async () => {
  const {server, remote, tag} = await warmRemote()
  const xxh = await loadXxh64()
  const src = `burn:src:${H1}`
  const cc = `burn:cc:${tag}:${H1}`
  const orig = {src: (await server.get(src))!, cc: (await server.get(cc))!, cc2: (await server.get(`burn:cc:${tag}:${H2}`))!}
  const artifact2 = orig.cc2.subarray(0, orig.cc2.length - 40)
  const payload2 = (decodeArtifact(artifact2, {tag, sourceHash: H2}, xxh) as {payload: Buffer}).payload
  // SRC1's header (hash, xxh64, length) around SRC2's code cache: passes every check of burn's and V8's; only the seal stops it
  const forged = encodeArtifact(
    {tag, sourceHash: H1, sourceXxh: xxh(Buffer.from(SRC1)), sourceLength: SRC1.length, warm: true},
    payload2,
    xxh,
  )
  const flip = (b: Buffer, at: number) => Buffer.concat([b.subarray(0, at), Buffer.from([b[at] ^ 1]), b.subarray(at + 1)])
  const sourceCases: Array<[string, Buffer]> = [
    ['source with a flipped byte', flip(orig.src, 5)],
    ['source truncated', orig.src.subarray(0, 10)],
    ['source emptied', Buffer.alloc(0)],
    ['source swapped with another key', Buffer.from(SRC2)],
  ]
  for (const [what, value] of sourceCases) {
    await server.call('SET', src, value)
    const d = tmp()
    const r = rb(['run', H1, '--input', '1'], d, remote)
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, '', notFound(H1)], what)
    assert.equal(stats(d)['remote.rejected'], 1, what)
    assert.deepEqual(readdirSync(join(d, 'objects')), [], what)
    verifyClean(d)
  }
  await server.call('SET', src, orig.src)
  const compiledCases: Array<[string, Buffer]> = [
    ['compiled form with a flipped byte', flip(orig.cc, 100)],
    ['compiled form truncated', orig.cc.subarray(0, 50)],
    ['compiled form emptied', Buffer.alloc(0)],
    ['compiled form of another source of the same length', orig.cc2],
    ['compiled form forged for this source with another code cache, sealed with another key', sealCompiled(tag, H1, forged, 'not-the-key')],
    ['compiled form forged for this source with another code cache, unsealed', forged],
  ]
  for (const [what, value] of compiledCases) {
    await server.call('SET', cc, value)
    const d = tmp()
    const r = rb(['run', H1, '--input', '1', '--json'], d, remote)
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, runJson(H1, 'miss', {one: 1}), ''], what)
    const s = stats(d)
    assert.deepEqual([s['remote.rejected'], s.compiles], [1, 1], what)
    verifyClean(d)
  }
  await server.call('SET', cc, orig.cc)
})

test('a value over BURN_REMOTE_MAX_VALUE is read only to one byte past it, then rejected: never held whole, never run', async () => {
  const {server, remote} = await warmRemote()
  const sent = async () => Number(/total_net_output_bytes:(\d+)/.exec(String(await server.call('INFO', 'stats')))![1])
  // 8 MiB under the key of SRC1's source: the cap is 1 MiB
  await server.call('SET', `burn:src:${H1}`, Buffer.alloc(8 << 20, 0x61))
  const d = tmp()
  const before = await sent()
  const r = rb(['run', H1, '--input', '1'], d, {...remote, BURN_REMOTE_MAX_VALUE: '1MiB'})
  const out = (await sent()) - before
  assert.deepEqual([r.code, r.stdout, r.stderr], [3, '', notFound(H1)])
  assert.equal(stats(d)['remote.rejected'], 1)
  assert.ok(out > 1 << 20 && out < 2 << 20, `the server sent ${out} bytes for an 8 MiB value under a 1 MiB cap`)
  assert.deepEqual(readdirSync(join(d, 'objects')), [])
  verifyClean(d)
})

test('names and engine bindings count only signed with the key: no key or a wrong key runs on quickjs only and refuses the name', async () => {
  const {server, remote} = await warmRemote()
  const refused = (why: string) =>
    `Error: name one was found on the remote cache ${server.url} but is not used: ${why}, and a name from a remote is followed only ` +
    'when signed; set BURN_REMOTE_KEY to the key it was published with, or register the script here (`burn register <file> --name one`)\n'
  // (the remote has no quickjs form: A registered for v8; the --engine v8 call fetched the source, so this run compiles)
  for (const [key, why, cache] of [
    [undefined, 'no BURN_REMOTE_KEY is set to check its signature', 'miss'],
    ['wrong-key', 'its signature does not match BURN_REMOTE_KEY', 'miss'],
  ] as const) {
    const env = {...remote, BURN_REMOTE_KEY: key}
    const d = tmp()
    const byName = rb(['run', 'one', '--input', '1'], d, env)
    assert.deepEqual([byName.code, byName.stdout, byName.stderr], [3, '', refused(why)])
    const v8 = rb(['run', H1, '--input', '1', '--engine', 'v8'], d, env)
    assert.equal(v8.code, 2)
    assert.match(v8.stderr, /is registered for the quickjs sandbox only, so it does not run on v8/)
    const q = rb(['run', H1, '--input', '1', '--json'], d, env)
    assert.deepEqual([q.code, q.stdout, q.stderr], [0, runJson(H1, cache, {one: 1}), ''])
    assert.equal(readFileSync(join(d, 'engines', H1.slice(0, 2), H1), 'utf8'), '["quickjs"]\n')
    assert.deepEqual(readdirSync(join(d, 'names')), [])
    verifyClean(d)
  }
  // with the key: the name and the v8 binding are used
  const k = tmp()
  const ok = rb(['run', 'one', '--input', '1', '--engine', 'v8', '--json'], k, remote)
  assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, runJson(H1, 'hit', {one: 1}), ''])
  // a forged name record (another key's signature) pointing at another valid script is never followed
  const {signName} = await import('../../src/store/remote/signing.js')
  await server.call('SET', 'burn:name:one', signName('one', H2, 'attacker-key'))
  const f = tmp()
  const forged = rb(['run', 'one', '--input', '1'], f, remote)
  assert.deepEqual([forged.code, forged.stdout, forged.stderr], [3, '', refused('its signature does not match BURN_REMOTE_KEY')])
  assert.equal(stats(f)['remote.rejected'], 1)
  assert.deepEqual(readdirSync(join(f, 'objects')), [])
  // a signed name leading to a source the remote lacks, or one that fails its hash: not followed
  await server.call('SET', 'burn:name:one', signName('one', sha('absent'), KEY))
  const g = tmp()
  const absent = rb(['run', 'one', '--input', '1'], g, remote)
  assert.deepEqual([absent.code, absent.stdout, absent.stderr], [3, '', notFound('one')])
  assert.equal(stats(g)['remote.rejected'], 1)
  await server.call('SET', 'burn:name:one', signName('one', H1, KEY))
  await server.call('SET', `burn:src:${H1}`, SRC2)
  const h = tmp()
  const damaged = rb(['run', 'one', '--input', '1'], h, remote)
  assert.deepEqual([damaged.code, damaged.stdout, damaged.stderr], [3, '', notFound('one')])
  assert.equal(stats(h)['remote.rejected'], 1)
  verifyClean(h)
})

test('a remote that is down, unreachable or refuses the password: one warning line, the local outcome and exit code', async () => {
  const files = tmp()
  const file = writeScript(files, 's.js', SRC1)
  const port = await freePort()
  const stopped = await startRedis()
  await stopped.stop()
  const auth = await startRedis({tcp: true, password: 'right-password'})
  const cases: Array<[string, Record<string, string>, string]> = [
    ['unreachable port', {BURN_REMOTE: `redis://127.0.0.1:${port}`}, `connect ECONNREFUSED 127.0.0.1:${port}`],
    ['server down', {BURN_REMOTE: stopped.url}, `connect ENOENT ${stopped.socket}`],
    [
      'wrong password',
      {BURN_REMOTE: auth.url, BURN_REMOTE_PASSWORD: 'pw-Secret-123'},
      'WRONGPASS invalid username-password pair or user is disabled.',
    ],
    [
      'unknown ACL user',
      {BURN_REMOTE: `redis://nobody:pw-Secret-123@127.0.0.1:${auth.port}`},
      'WRONGPASS invalid username-password pair or user is disabled.',
    ],
  ]
  for (const [what, env, why] of cases) {
    const shown = env.BURN_REMOTE.replace(':pw-Secret-123@', ':***@')
    const d = tmp()
    const miss = rb(['run', H1, '--input', '1'], d, env)
    assert.deepEqual([miss.code, miss.stdout, miss.stderr], [3, '', warning(shown, why) + notFound(H1)], what)
    const reg = rb(['register', file], d, env)
    assert.deepEqual([reg.code, reg.stdout, reg.stderr], [0, `${H1}  compiled  -  ${file}\n`, warning(shown, why)], what)
    const hit = rb(['run', H1, '--input', '1'], d, env)
    assert.deepEqual([hit.code, hit.stdout, hit.stderr], [0, '{"one":1}\n', ''], what)
    const st = rb(['remote', 'status', '--json'], d, env)
    assert.equal(st.code, 0)
    assert.equal(JSON.parse(st.stdout).reachable, false)
    for (const out of [miss, reg, st]) assert.doesNotMatch(out.stdout + out.stderr, /pw-Secret-123/, what)
    assert.equal(stats(d)['remote.errors'], 2, what)
    verifyClean(d)
  }
})

test('a slow remote (CLIENT PAUSE, DEBUG SLEEP) costs at most the timeout once; a full one (noeviction) fails the publish only', async () => {
  const {server, remote} = await warmRemote()
  const env = {...remote, BURN_REMOTE_TIMEOUT: '300ms'}
  const timed = (what: string) => warning(server.url, `no answer within 300 ms (${what})`)
  await server.call('CLIENT', 'PAUSE', '6000', 'ALL')
  const t0 = Date.now()
  const pausedDir = tmp()
  const paused = await burnAsync(['run', H1, '--input', '1'], {cacheDir: pausedDir, env: {BURN_DAEMON: 'off', ...env}})
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`)
  assert.deepEqual([paused.code, paused.stdout, paused.stderr], [3, '', timed(`reading burn:src:${H1}`) + notFound(H1)])
  await server.call('CLIENT', 'UNPAUSE')
  const sleeping = server.call('DEBUG', 'SLEEP', '6')
  await new Promise((r) => setTimeout(r, 200))
  const t1 = Date.now()
  const sleptDir = tmp()
  const slept = await burnAsync(['run', H1, '--input', '1'], {cacheDir: sleptDir, env: {BURN_DAEMON: 'off', ...env}})
  assert.ok(Date.now() - t1 < 5000, `took ${Date.now() - t1} ms`)
  assert.equal(slept.code, 3)
  assert.equal(slept.stdout, '')
  // (asleep, the server does not even finish the handshake: the connect deadline is connect + operation timeout)
  assert.equal(slept.stderr, warning(server.url, 'no answer within 800 ms (connecting)') + notFound(H1))
  await sleeping
  for (const d of [pausedDir, sleptDir]) verifyClean(d)
  await server.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
  await server.call('CONFIG', 'SET', 'maxmemory', '1')
  const before = await server.keys()
  const d = tmp()
  const file = writeScript(tmp(), 'n.js', 'module.exports = 7\n')
  const reg = rb(['register', file], d, env)
  assert.deepEqual(
    [reg.code, reg.stdout, reg.stderr],
    [
      0,
      `${sha('module.exports = 7\n')}  compiled  -  ${file}\n`,
      warning(server.url, "OOM command not allowed when used memory > 'maxmemory'."),
    ],
  )
  assert.deepEqual(await server.keys(), before)
  verifyClean(d)
})

test('read-only writes nothing; mode off and an unset BURN_REMOTE never connect', async () => {
  const {server, remote} = await warmRemote()
  const keys = await server.keys()
  const ro = {...remote, BURN_REMOTE_MODE: 'read-only'}
  const d = tmp()
  const file = writeScript(tmp(), 'r.js', 'module.exports = 8\n')
  assert.equal(rb(['register', file], d, ro).code, 0)
  assert.equal(rb(['register', file, '--remote-mode', 'read-only'], d, remote).code, 0)
  // fetched without the key: compiled here for quickjs, and not published back
  const run = rb(['run', H1, '--input', '1'], d, {...ro, BURN_REMOTE_KEY: undefined})
  assert.deepEqual([run.code, run.stdout, run.stderr], [0, '{"one":1}\n', ''])
  const push = rb(['push'], d, ro)
  assert.equal(push.code, 2)
  assert.equal(push.stderr, `Error: the remote cache ${server.url} is read-only: \`burn push\` needs read-write\n`)
  assert.deepEqual(await server.keys(), keys)
  const connections = await server.connections()
  const off = tmp()
  for (const env of [{...remote, BURN_REMOTE_MODE: 'off'}, {}]) {
    const miss = rb(['run', H2, '--input', '1'], off, env)
    assert.deepEqual([miss.code, miss.stderr], [3, notFound(H2)])
    assert.equal(rb(['register', file], off, env).code, 0)
  }
  assert.equal(rb(['register', file, '--remote-mode', 'off'], off, remote).code, 0)
  assert.equal(await server.connections(), connections)
})

test('8 processes on 8 empty cache dirs run the same remote hash at once: all correct, the remote unchanged', async () => {
  const {server, remote} = await warmRemote()
  const keys = await server.keys()
  const runs = await Promise.all(
    Array.from({length: 8}, (_, i) =>
      burnAsync(['run', H2, '--input', String(i)], {cacheDir: tmp(), env: {BURN_DAEMON: 'off', ...remote}, timeoutMs: 120_000}),
    ),
  )
  runs.forEach((r, i) => assert.deepEqual([r.code, r.stdout, r.stderr], [0, `{"two":${i}}\n`, '']))
  assert.deepEqual(await server.keys(), keys)
})

test('burn push publishes a cache dir, burn pull fetches ahead of time, burn remote status counts keys', async () => {
  const server = await startRedis()
  const A = tmp()
  const files = tmp()
  assert.equal(rb(['register', writeScript(files, 'one.js', SRC1), '--name', 'one'], A).code, 0)
  assert.deepEqual(await server.keys(), [])
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const push = rb(['push', '--json'], A, env)
  assert.equal(push.code, 0, push.stderr)
  assert.deepEqual(JSON.parse(push.stdout), {scripts: 1, published: 4, bytes: JSON.parse(push.stdout).bytes})
  const again = rb(['push', '--json'], A, env)
  // the records are replaced (2), the content is already there
  assert.deepEqual(JSON.parse(again.stdout).published, 2)
  const st = rb(['remote', 'status', '--json'], A, env)
  assert.deepEqual(JSON.parse(st.stdout).keys, {sources: 1, compiled: 1, names: 1, engines: 1})
  const P = tmp()
  const pull = rb(['pull', 'one', H1, sha('nothing')], P, env)
  assert.equal(pull.code, 3)
  assert.equal(pull.stdout, `${H1}  fetched   one\n${H1}  local     ${H1}\n${'-'.padEnd(64)}  missing   ${sha('nothing')}\n`)
  const run = rb(['run', 'one', '--input', '1', '--json'], P, {})
  assert.deepEqual([run.code, run.stdout], [0, runJson(H1, 'hit', {one: 1})])
})

// The tests below share one server (started once for the file), each under a prefix of its own.
const shared = await startRedis()

test('a 9 MB script through the remote: registered in A, run in empty B by hash and C by name, same bytes, no compile', async () => {
  const big = bigScript()
  const H = sha(big.source)
  const remote = {BURN_REMOTE: shared.url, BURN_REMOTE_KEY: KEY, BURN_REMOTE_PREFIX: 'big:'}
  const A = tmp()
  const file = writeScript(tmp(), 'big.js', big.source)
  const reg = rb(['register', file, '--name', 'big'], A, remote)
  assert.deepEqual([reg.code, reg.stdout, reg.stderr], [0, `${H}  compiled  big  ${file}\n`, ''])
  const tag = currentTag(A)
  assert.deepEqual(await shared.get(`big:src:${H}`), Buffer.from(big.source))
  assert.deepEqual(await shared.keys('big:*'), [`big:cc:${tag}:${H}`, `big:eng:${H}`, 'big:name:big', `big:src:${H}`])
  const B = tmp()
  const C = tmp()
  const b = rb(['run', H, '--input', big.input], B, remote)
  assert.deepEqual([b.code, b.stdout, b.stderr], [0, big.output, ''])
  const c = rb(['run', 'big', '--input', big.input], C, remote)
  assert.deepEqual([c.code, c.stdout, c.stderr], [0, big.output, ''])
  for (const d of [B, C]) {
    assert.deepEqual(readFileSync(objectPath(d, H)), readFileSync(objectPath(A, H)))
    const s = stats(d)
    assert.deepEqual([s.compiles, s['remote.hits'], s['remote.rejected']], [0, 1, undefined])
    assert.ok(s['remote.bytesIn'] > big.source.length, `bytes in ${s['remote.bytesIn']}`)
    verifyClean(d)
  }
})

test('BURN_REMOTE_TTL: every key gets the expiry, a read refreshes it (EXPIRE), and none is set without it', async () => {
  const ttl = {BURN_REMOTE: shared.url, BURN_REMOTE_KEY: KEY, BURN_REMOTE_PREFIX: 'ttl:', BURN_REMOTE_TTL: '1h'}
  const A = tmp()
  assert.equal(rb(['register', writeScript(tmp(), 'one.js', SRC1), '--name', 'one'], A, ttl).code, 0)
  const keys = await shared.keys('ttl:*')
  assert.equal(keys.length, 4)
  const pttls = async () => Promise.all(keys.map(async (k) => [k, Number(await shared.call('PTTL', k))] as const))
  for (const [k, ms] of await pttls()) assert.ok(ms > 3_500_000 && ms <= 3_600_000, `${k}: PTTL ${ms}`)
  for (const k of keys) await shared.call('EXPIRE', k, '100')
  // every value a fetch by name reads: the name, the source, the binding, the compiled form
  const B = tmp()
  const run = rb(['run', 'one', '--input', '1'], B, ttl)
  assert.deepEqual([run.code, run.stdout, run.stderr], [0, '{"one":1}\n', ''])
  for (const [k, ms] of await pttls()) assert.ok(ms > 3_500_000 && ms <= 3_600_000, `${k}: PTTL ${ms} after a read`)
  // a local hit never touches the remote, so it refreshes nothing
  for (const k of keys) await shared.call('EXPIRE', k, '100')
  assert.equal(rb(['run', 'one', '--input', '2'], B, ttl).code, 0)
  for (const [k, ms] of await pttls()) assert.ok(ms <= 100_000 && ms > 0, `${k}: PTTL ${ms} after a local hit`)
  const none = {...ttl, BURN_REMOTE_PREFIX: 'nottl:', BURN_REMOTE_TTL: undefined}
  assert.equal(rb(['register', writeScript(tmp(), 'one.js', SRC1), '--name', 'one'], tmp(), none).code, 0)
  const plain = await shared.keys('nottl:*')
  assert.equal(plain.length, 4)
  for (const k of plain) assert.equal(await shared.call('PTTL', k), -1, k)
})

test('rediss://: a round trip over TLS trusting the CA of BURN_REMOTE_CA; without it the certificate is refused with one warning', async () => {
  const tls = await startRedis({tls: true})
  const remote = {BURN_REMOTE: tls.url, BURN_REMOTE_KEY: KEY, BURN_REMOTE_CA: tls.ca}
  const A = tmp()
  const file = writeScript(tmp(), 'one.js', SRC1)
  const reg = rb(['register', file, '--name', 'one'], A, remote)
  assert.deepEqual([reg.code, reg.stdout, reg.stderr], [0, `${H1}  compiled  one  ${file}\n`, ''])
  assert.equal((await tls.keys()).length, 4)
  const st = rb(['remote', 'status', '--json'], A, remote)
  assert.equal(JSON.parse(st.stdout).reachable, true, st.stdout)
  const B = tmp()
  const run = rb(['run', 'one', '--input', '1'], B, remote)
  assert.deepEqual([run.code, run.stdout, run.stderr], [0, '{"one":1}\n', ''])
  assert.deepEqual([stats(B).compiles, stats(B)['remote.hits']], [0, 1])
  const C = tmp()
  const refused = rb(['run', 'one', '--input', '1'], C, {...remote, BURN_REMOTE_CA: undefined})
  assert.deepEqual(
    [refused.code, refused.stdout, refused.stderr],
    [3, '', warning(tls.url, 'self-signed certificate in certificate chain') + notFound('one')],
  )
  const missing = rb(['run', 'one', '--input', '1'], C, {...remote, BURN_REMOTE_CA: join(C, 'no-ca.pem')})
  assert.deepEqual(
    [missing.code, missing.stdout, missing.stderr],
    [3, '', warning(tls.url, `ENOENT: no such file or directory, open '${join(C, 'no-ca.pem')}'`) + notFound('one')],
  )
  verifyClean(C)
})
