import assert from 'node:assert/strict'
import {createHash, createHmac} from 'node:crypto'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'
import {encodeResult} from '../../src/store/results/format.js'
import {loadXxh64} from '../../src/util/hash.js'
import {burn, stats, tmp, writeScript, type Result} from '../helpers.js'
import {sha} from '../fixtures/store.js'
import {NO_REMOTE, startRedis, type RedisServer} from '../fixtures/redis.js'

// Memoized results on the shared remote cache (issue 14 item 5, on issue 16's remote): a result
// computed with --memo on one machine is printed on another without running the script, only
// sealed with BURN_REMOTE_KEY; a tampered one is rejected and the call computes. Real
// redis-server (test/fixtures/redis.ts); two machines are two cache dirs.

const KEY = 'test-signing-key'
// v8, and random: a machine that printed A's bytes did not compute them. Says on stderr that it ran.
const RANDOM = 'module.exports = (x) => { console.error("ran"); return {x, r: Math.random()} }\n'
const DOUBLE = 'module.exports = (x) => { console.error("ran"); return {double: x * 2} }\n'
const [HR, HD] = [RANDOM, DOUBLE].map(sha)
const LONG = 120_000
const T = ['--timeout', '60s']

function rb(args: string[], cacheDir: string, env: Record<string, string | undefined> = {}): Result {
  return burn(args, {cacheDir, env: {BURN_DAEMON: 'off', ...NO_REMOTE, ...env}, timeoutMs: LONG})
}

/** Through the run daemon, or exit 1 saying why not (BURN_DAEMON=require). */
function viaDaemon(args: string[], cacheDir: string, env: Record<string, string | undefined> = {}): Result {
  return burn(args, {cacheDir, env: {...NO_REMOTE, ...env, BURN_DAEMON: 'require'}, timeoutMs: LONG})
}

const runJson = (hash: string, cache: string, result: unknown) => JSON.stringify({hash, cache, result}) + '\n'
const counter = (dir: string, id: string) => stats(dir)[id] ?? 0

/** A cache dir with `source` registered (no remote), named s. */
function machine(source: string, extra: string[] = []): string {
  const d = tmp()
  const r = rb(['register', writeScript(tmp(), 'script.js', source), '--name', 's', ...extra], d)
  assert.equal(r.code, 0, r.stderr)
  return d
}

/** The one result file a cache dir holds for `hash`. */
function resultFile(dir: string, hash: string): {key: string; bytes: Buffer} {
  const d = join(dir, 'results', hash.slice(0, 2), hash)
  const files = existsSync(d) ? readdirSync(d) : []
  assert.equal(files.length, 1, `${d}: ${files.join(' ')}`)
  return {key: files[0], bytes: readFileSync(join(d, files[0]))}
}

/** The seal, spelled out here rather than taken from src: the wire format is the contract. */
function sealed(file: Buffer, hash: string, memoKey: string, key = KEY): Buffer {
  const digest = createHash('sha256').update(file).digest('hex')
  const mac = createHmac('sha256', key).update(`burn-remote-1\nresult:${hash}:${memoKey}\n${digest}`).digest()
  return Buffer.concat([file, Buffer.from('burnsig1'), mac])
}

const resKeys = (server: RedisServer) => server.keys('burn:res:*')

function verifyClean(cacheDir: string): void {
  const v = rb(['verify'], cacheDir)
  assert.equal(v.code, 0, v.stdout + v.stderr)
}

test('A computes with --memo and publishes it sealed; B prints it from the remote without running the script', async () => {
  const server = await startRedis()
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  // A registers with the key: its source and signed v8 binding go to the remote
  const A = tmp()
  const reg = rb(['register', writeScript(tmp(), 'random.js', RANDOM), '--name', 'random'], A, env)
  assert.deepEqual([reg.code, reg.stderr], [0, ''])
  const a = rb(['run', 'random', '--memo', '--input', '{"a": 1}', ...T], A, env)
  assert.deepEqual([a.code, a.stderr], [0, 'ran\n'])
  assert.match(a.stdout, /^\{"x":\{"a":1\},"r":0\.\d+\}\n$/)
  // the remote holds A's result file, sealed: its bytes, `burnsig1`, the HMAC over (hash, memo key, file)
  const {key, bytes} = resultFile(A, HR)
  assert.deepEqual(await resKeys(server), [`burn:res:${HR}:${key}`])
  assert.deepEqual(await server.get(`burn:res:${HR}:${key}`), sealed(bytes, HR, key))
  assert.equal(counter(A, 'remote.published'), 5)
  // B: an empty cache dir. The script and its result come from the remote; the script never runs.
  const B = tmp()
  const b = rb(['run', HR, '--memo', '--input', '{"a":1}', '--json', ...T], B, env)
  assert.deepEqual([b.code, b.stdout, b.stderr], [0, runJson(HR, 'memo', JSON.parse(a.stdout)), ''])
  assert.deepEqual(resultFile(B, HR), {key, bytes})
  const s = stats(B)
  assert.deepEqual(
    ['runs.ok', 'compiles', 'memo.hits', 'memo.misses', 'remote.hits', 'remote.memoHits', 'remote.rejected', 'remote.published'].map(
      (id) => s[id] ?? 0,
    ),
    [0, 0, 1, 0, 2, 1, 0, 0],
  )
  // the next call is a local hit: the server is gone and nobody notices
  await server.stop()
  const again = rb(['run', HR, '--memo', '--input', '{"a":1}', ...T], B, env)
  assert.deepEqual([again.code, again.stdout, again.stderr], [0, a.stdout, ''])
  verifyClean(A)
  verifyClean(B)
})

test('through the run daemon: a memo miss asks the remote in the runner, and a computed result is published', async () => {
  const server = await startRedis()
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const A = machine(RANDOM)
  const a = viaDaemon(['run', 's', '--memo', '--input', '7', ...T], A, env)
  assert.deepEqual([a.code, a.stderr], [0, 'ran\n'])
  const {key, bytes} = resultFile(A, HR)
  assert.deepEqual(await server.get(`burn:res:${HR}:${key}`), sealed(bytes, HR, key))
  const B = machine(RANDOM)
  const b = viaDaemon(['run', 's', '--memo', '--input', '7', ...T], B, env)
  assert.deepEqual([b.code, b.stdout, b.stderr], [0, a.stdout, ''])
  assert.deepEqual(
    ['runs.ok', 'memo.hits', 'remote.memoHits'].map((id) => counter(B, id)),
    [0, 1, 1],
  )
  verifyClean(B)
})

/** What a hostile remote puts under the key of DOUBLE's result for input 1. */
async function forgeries(file: Buffer, key: string, other: {key: string; value: Buffer}): Promise<Array<[string, Buffer]>> {
  const xxh = await loadXxh64()
  // a whole result file, both checksums right, that says 1 * 2 is 3
  const lie = encodeResult({hash: HD, key}, Buffer.from('{"double":3}'), xxh)
  const flipped = sealed(file, HD, key)
  flipped[flipped.indexOf('{"double":2}') + 10] ^= 0x01
  // sealed by a key holder, and still not a result: its own checksums (or the key in its header) say so
  const damaged = flipped.subarray(0, file.length)
  const otherFile = other.value.subarray(0, other.value.length - 40)
  return [
    ['a flipped byte', flipped],
    ['a flipped byte, sealed again with the key', sealed(damaged, HD, key)],
    ["another input's file, sealed with the key for this one", sealed(otherFile, HD, key)],
    ['truncated', sealed(file, HD, key).subarray(0, file.length + 39)],
    ['the right file, unsealed', file],
    ['a lie, unsealed', lie],
    ['a lie sealed with another key', sealed(lie, HD, key, 'another-key')],
    ['a lie sealed for another memo key', sealed(lie, HD, other.key)],
    ["another input's result, moved here", other.value],
  ]
}

test('a tampered result on the remote is rejected and computed again, never printed', async () => {
  const server = await startRedis()
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const A = machine(DOUBLE, ['--engine', 'quickjs'])
  for (const input of ['1', '2']) {
    const r = rb(['run', 's', '--memo', '--input', input, ...T], A, env)
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `{"double":${Number(input) * 2}}\n`, 'ran\n'])
  }
  const keys = await resKeys(server)
  assert.equal(keys.length, 2)
  const values = await Promise.all(keys.map(async (k) => ({key: k.split(':')[3], value: (await server.get(k))!})))
  // which of the two is input 1's: the one whose file says 2
  const [one, two] = values[0].value.includes('{"double":2}') ? values : [values[1], values[0]]
  const file = one.value.subarray(0, one.value.length - 40)
  const at = `burn:res:${HD}:${one.key}`
  for (const [what, value] of await forgeries(file, one.key, two)) {
    await server.call('SET', at, value)
    const B = machine(DOUBLE, ['--engine', 'quickjs'])
    const b = rb(['run', 's', '--memo', '--input', '1', ...T], B, env)
    assert.deepEqual([b.code, b.stdout, b.stderr], [0, '{"double":2}\n', 'ran\n'], what)
    assert.deepEqual(
      ['remote.rejected', 'remote.memoHits', 'memo.hits', 'memo.misses', 'runs.ok'].map((id) => counter(B, id)),
      [1, 0, 0, 1, 1],
      what,
    )
    // what B keeps is what B computed: A's very bytes (quickjs is deterministic)
    assert.deepEqual(resultFile(B, HD).bytes, file, what)
    // (the remote keeps the forgery: results are set only if absent, as compiled forms are)
    assert.deepEqual(await server.get(at), value, what)
    verifyClean(B)
  }
})

test('no BURN_REMOTE_KEY: results are neither published nor fetched, and the remote is not even connected for them', async () => {
  const server = await startRedis()
  const A = machine(DOUBLE, ['--engine', 'quickjs'])
  const before = await server.connections()
  const a = rb(['run', 's', '--memo', '--input', '1', ...T], A, {BURN_REMOTE: server.url})
  assert.deepEqual([a.code, a.stdout, a.stderr], [0, '{"double":2}\n', 'ran\n'])
  assert.deepEqual([await resKeys(server), await server.connections()], [[], before])
  // a sealed result on the remote is not used by a machine without the key
  const {key, bytes} = resultFile(A, HD)
  await server.call('SET', `burn:res:${HD}:${key}`, sealed(bytes, HD, key))
  const B = machine(DOUBLE, ['--engine', 'quickjs'])
  const b = rb(['run', 's', '--memo', '--input', '1', ...T], B, {BURN_REMOTE: server.url})
  assert.deepEqual([b.code, b.stdout, b.stderr], [0, '{"double":2}\n', 'ran\n'])
  assert.equal(await server.connections(), before)
  assert.deepEqual(
    ['remote.hits', 'remote.misses', 'remote.memoHits', 'memo.misses'].map((id) => counter(B, id)),
    [0, 0, 0, 1],
  )
})

test('read-only mode fetches but never publishes; idempotency-key records stay local; a down remote costs one warning', async () => {
  const server = await startRedis()
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const A = machine(DOUBLE, ['--engine', 'quickjs'])
  const ro = rb(['run', 's', '--memo', '--remote-mode', 'read-only', '--input', '1', ...T], A, env)
  assert.deepEqual([ro.code, ro.stdout, ro.stderr], [0, '{"double":2}\n', 'ran\n'])
  assert.deepEqual(await server.keys(), [])
  assert.deepEqual(
    ['remote.misses', 'remote.published'].map((id) => counter(A, id)),
    [1, 0],
  )
  // a key and --memo: the memo result is shared, the key's record is not
  const k = rb(['run', 's', '--memo', '--idempotency-key', 'job-1', '--input', '2', ...T], A, env)
  assert.deepEqual([k.code, k.stdout, k.stderr], [0, '{"double":4}\n', 'ran\n'])
  const shared = await server.keys()
  assert.equal(shared.length, 1)
  assert.match(shared[0], new RegExp(`^burn:res:${HD}:[0-9a-f]{64}$`))
  // a result longer sealed than BURN_REMOTE_MAX_VALUE would be rejected by every reader: not sent
  const big = rb(['run', 's', '--memo', '--input', '3', ...T], A, {...env, BURN_REMOTE_MAX_VALUE: '147'})
  assert.deepEqual([big.code, big.stdout, big.stderr], [0, '{"double":6}\n', 'ran\n'])
  assert.deepEqual(await server.keys(), shared)
  const B = machine(DOUBLE, ['--engine', 'quickjs'])
  const ro2 = rb(['run', 's', '--memo', '--remote-mode', 'read-only', '--idempotency-key', 'job-1', '--input', '2', ...T], B, env)
  assert.deepEqual([ro2.code, ro2.stdout, ro2.stderr], [0, '{"double":4}\n', ''])
  assert.ok(existsSync(join(B, 'results', 'keys', 'job-1')))
  // the key is now recorded in B too: another input under it is the usual conflict
  const conflict = rb(['run', 's', '--idempotency-key', 'job-1', '--input', '3', ...T], B, env)
  assert.equal(conflict.code, 7, conflict.stderr)
  // down: the call computes, says so once on stderr, and its exit code is unchanged
  const url = server.url
  await server.stop()
  const C = machine(DOUBLE, ['--engine', 'quickjs'])
  const down = rb(['run', 's', '--memo', '--input', '5', ...T], C, env)
  assert.equal(down.code, 0, down.stderr)
  assert.equal(down.stdout, '{"double":10}\n')
  assert.match(
    down.stderr,
    new RegExp(`^burn: remote cache ${url} is unavailable \\([^\\n]+\\); going on with the local cache only\\nran\\n$`),
  )
  assert.deepEqual(
    ['remote.errors', 'memo.stored'].map((id) => counter(C, id)),
    [1, 1],
  )
  verifyClean(C)
})

test("the run daemon's cooldown holds for results too: a --memo call in it neither fetches nor publishes, and says so", async () => {
  const server = await startRedis({tcp: true})
  const D = machine(DOUBLE, ['--engine', 'quickjs'])
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY, BURN_REMOTE_TIMEOUT: '2s', BURN_REMOTE_COOLDOWN: '120s'}
  // the daemon is up (not a --memo call: the remote is never asked)
  const up = viaDaemon(['run', 's', '--input', '0', ...T], D, env)
  assert.deepEqual([up.code, up.stdout, up.stderr], [0, '{"double":0}\n', 'ran\n'])
  const why = 'no answer within 2500 ms (connecting)'
  server.process.kill('SIGSTOP')
  try {
    const failed = viaDaemon(['run', 's', '--memo', '--input', '1', ...T], D, env)
    assert.deepEqual(
      [failed.code, failed.stdout, failed.stderr],
      [0, '{"double":2}\n', `burn: remote cache ${server.url} is unavailable (${why}); going on with the local cache only\nran\n`],
    )
    const cooled = viaDaemon(['run', 's', '--memo', '--input', '2', ...T], D, env)
    const left = /not asked for (\d+) s more/.exec(cooled.stderr)?.[1] ?? '?'
    assert.deepEqual(
      [cooled.code, cooled.stdout, cooled.stderr],
      [
        0,
        '{"double":4}\n',
        `burn: remote cache ${server.url} is not asked for ${left} s more: it failed for an earlier call (${why}); ` +
          'going on with the local cache only\nran\n',
      ],
    )
  } finally {
    server.process.kill('SIGCONT')
  }
  assert.deepEqual(await resKeys(server), [])
  assert.deepEqual(
    ['remote.errors', 'remote.skipped', 'remote.published', 'memo.stored'].map((id) => counter(D, id)),
    [1, 1, 0, 2],
  )
  verifyClean(D)
})
