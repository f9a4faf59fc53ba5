import assert from 'node:assert/strict'
import {createHash, createHmac} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'
import {burn, stats, tmp, writeScript, type Result} from '../helpers.js'
import {sha} from '../fixtures/store.js'
import {NO_REMOTE, startRedis, type RedisServer} from '../fixtures/redis.js'

// `batch --memo` rows and `burn push` of memoized results on the shared remote cache (issue 14
// item 5: "with a remote configured, results are shared like compiled forms and verified the
// same way"). A rows pack computed on one machine is fetched by another before it looks its rows
// up; it travels only sealed with BURN_REMOTE_KEY, and anything that does not check out is
// computed instead. Real redis-server (test/fixtures/redis.ts); two machines are two cache dirs.

const KEY = 'test-signing-key'
// v8 and random: a machine that wrote A's bytes did not compute them. Says on stderr how many rows it got.
const MAP = 'module.exports = (rows) => { console.error("rows " + rows.length); return rows.map((r) => ({x: r.x, r: Math.random()})) }\n'
const H = sha(MAP)
const LONG = 120_000
const T = ['--timeout', '60s']

function rb(args: string[], cacheDir: string, env: Record<string, string | undefined> = {}): Result {
  return burn(args, {cacheDir, env: {BURN_DAEMON: 'off', ...NO_REMOTE, ...env}, timeoutMs: LONG})
}

/** A cache dir with MAP registered (no remote), named m. */
function machine(): string {
  const d = tmp()
  const r = rb(['register', writeScript(tmp(), 'map.js', MAP), '--name', 'm'], d)
  assert.equal(r.code, 0, r.stderr)
  return d
}

/** A file of `n` NDJSON rows, rows in `changed` given another x. */
function rows(n: number, changed: number[] = []): string {
  const file = join(tmp(), 'rows.ndjson')
  writeFileSync(file, Array.from({length: n}, (_, i) => `{"x":${changed.includes(i + 1) ? -(i + 1) : i + 1}}\n`).join(''))
  return file
}

/** A --memo batch: its output, summary (stderr's last line) and the rows the script got (its own stderr lines). */
function memoBatch(cacheDir: string, file: string, env: Record<string, string | undefined>) {
  const r = rb(['batch', 'm', '-f', file, '--memo', '--json', '--chunk-size', '100', ...T], cacheDir, env)
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stderr.trimEnd().split('\n')
  const ran = lines.slice(0, -1).reduce((n, l) => n + Number(/^rows (\d+)$/.exec(l)?.[1] ?? NaN), 0)
  const s = JSON.parse(lines[lines.length - 1]) as Record<string, number>
  return {stdout: r.stdout, ran, computed: s.rowsComputed, reused: s.rowsReused}
}

/** The result files a cache dir holds for MAP, by key. */
function files(dir: string): Map<string, Buffer> {
  const d = join(dir, 'results', H.slice(0, 2), H)
  return new Map((existsSync(d) ? readdirSync(d) : []).sort().map((k) => [k, readFileSync(join(d, k))]))
}

/** The seal, spelled out here rather than taken from src: the wire format is the contract. */
function sealed(file: Buffer, key: string): Buffer {
  const digest = createHash('sha256').update(file).digest('hex')
  const mac = createHmac('sha256', KEY).update(`burn-remote-1\nresult:${H}:${key}\n${digest}`).digest()
  return Buffer.concat([file, Buffer.from('burnsig1'), mac])
}

/** The remote's rows sets of MAP, and their members. */
async function rowSets(server: RedisServer): Promise<Map<string, string[]>> {
  const sets = await server.keys(`burn:rows:${H}:*`)
  const out = new Map<string, string[]>()
  for (const s of sets.sort()) out.set(s, ((await server.call('SMEMBERS', s)) as Buffer[]).map(String).sort())
  return out
}

const counter = (dir: string, id: string) => stats(dir)[id] ?? 0

function verifyClean(cacheDir: string): void {
  const v = rb(['verify'], cacheDir)
  assert.equal(v.code, 0, v.stdout + v.stderr)
}

test('A batch --memo publishes its rows packs sealed; B fetches them and computes no row; each side sees the rows the other computed', async () => {
  const server = await startRedis()
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const A = machine()
  const base = rows(300)
  const a = memoBatch(A, base, env)
  assert.deepEqual([a.ran, a.computed, a.reused], [300, 300, 0])
  // A's one pack is on the remote, sealed, and listed in its scope's set
  const packsA = files(A)
  assert.equal(packsA.size, 1)
  const [[keyA, fileA]] = [...packsA]
  assert.deepEqual(await server.get(`burn:res:${H}:${keyA}`), sealed(fileA, keyA))
  const sets = await rowSets(server)
  assert.equal(sets.size, 1)
  const [[set, members]] = [...sets]
  assert.equal(set.slice(0, -64), `burn:rows:${H}:`)
  assert.equal(set.slice(-64, -48), keyA.slice(0, 16), 'the set is named by the scope the pack key starts with')
  assert.deepEqual(members, [keyA])
  // B: the same script registered locally, no row computed, A's very bytes written
  const B = machine()
  const b = memoBatch(B, base, env)
  assert.deepEqual([b.ran, b.computed, b.reused, b.stdout], [0, 0, 300, a.stdout])
  assert.deepEqual(files(B), packsA)
  assert.deepEqual(
    ['remote.hits', 'remote.memoHits', 'remote.rejected', 'memo.hits', 'memo.misses', 'memo.stored'].map((id) => counter(B, id)),
    [1, 1, 0, 300, 0, 0],
  )
  // B changes 3 rows: it computes those 3 and publishes their pack; A then computes nothing
  const changed = rows(300, [5, 150, 300])
  const b2 = memoBatch(B, changed, env)
  assert.deepEqual([b2.ran, b2.computed, b2.reused], [3, 3, 297])
  assert.equal((await rowSets(server)).get(set)?.length, 2)
  const a2 = memoBatch(A, changed, env)
  assert.deepEqual([a2.ran, a2.computed, a2.reused, a2.stdout], [0, 0, 300, b2.stdout])
  assert.deepEqual(files(A), files(B))
  verifyClean(A)
  verifyClean(B)
})

/** Two ways a pack on the remote can be wrong: bytes changed inside the file (then sealed with the key), or after the seal. */
const FORGERIES: Array<[string, (file: Buffer, key: string) => Buffer]> = [
  [
    "a row's result changed inside the file, sealed with the key (its own checksums fail)",
    (file, key) => {
      const f = Buffer.from(file)
      f[f.indexOf('{"x":1,') + 5] ^= 0x01
      return sealed(f, key)
    },
  ],
  [
    'a byte flipped after the seal (the seal fails)',
    (file, key) => {
      const v = sealed(file, key)
      v[v.indexOf('{"x":1,') + 5] ^= 0x01
      return v
    },
  ],
]

for (const [what, forge] of FORGERIES) {
  test(`a tampered pack (${what}) or a bogus set member: the rows are computed, never a wrong result, nothing bogus stored`, async () => {
    const server = await startRedis()
    const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
    const A = machine()
    const file = rows(200)
    const a = memoBatch(A, file, env)
    const [[keyA, fileA]] = [...files(A)]
    const [set] = (await rowSets(server)).keys()
    await server.call('SET', `burn:res:${H}:${keyA}`, forge(fileA, keyA))
    // members that are not packs of this scope (never looked up), and a newer one the remote does not hold
    const otherScope = '0'.repeat(64)
    await server.call('SET', `burn:res:${H}:${otherScope}`, sealed(fileA, otherScope))
    const gone = keyA.slice(0, 16) + 'f'.repeat(48)
    await server.call('SADD', set, '../../../../etc/passwd', otherScope, 'x'.repeat(64), gone)
    const B = machine()
    const b = memoBatch(B, file, env)
    assert.deepEqual([b.ran, b.computed, b.reused], [200, 200, 0])
    assert.notEqual(b.stdout, a.stdout, "B computed its own random rows rather than print A's")
    assert.match(b.stdout, /^\{"x":1,"r":0\.\d+\}\n/)
    // only B's own pack: no forged, foreign or bogus file was stored
    assert.deepEqual(
      [...files(B).keys()].map((k) => k === keyA),
      [false],
    )
    assert.deepEqual(
      ['remote.rejected', 'remote.memoHits', 'remote.misses'].map((id) => counter(B, id)),
      [1, 0, 1],
    )
    // a listed pack the remote no longer holds leaves the set (read-write mode); the rejected one stays; B's own pack joined
    const members = (await rowSets(server)).get(set)!
    assert.deepEqual([members.includes(gone), members.includes(keyA), members.length], [false, true, 5])
    verifyClean(B)
  })
}

test('junk under many listed keys: the first rejected pack ends the fetching (at most the ones already in flight come in)', async () => {
  const server = await startRedis()
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const A = machine()
  const file = rows(100)
  memoBatch(A, file, env)
  const [[keyA]] = [...files(A)]
  const [set] = (await rowSets(server)).keys()
  const junk = Buffer.alloc(1 << 20, 0x6a)
  // 12 keys newer than A's pack, each 1 MiB of junk
  for (let i = 0; i < 12; i++) {
    const key = keyA.slice(0, 16) + 'f' + i.toString(16) + 'e'.repeat(46)
    await server.call('SET', `burn:res:${H}:${key}`, junk)
    await server.call('SADD', set, key)
  }
  const B = machine()
  const b = memoBatch(B, file, env)
  assert.deepEqual([b.ran, b.computed], [100, 100])
  const [rejected, bytesIn] = ['remote.rejected', 'remote.bytesIn'].map((id) => counter(B, id))
  // 4 fetches in flight at once (result-files.ts WIDTH): the rest, A's pack among them, are never asked for
  assert.ok(rejected >= 1 && rejected <= 4, `rejected ${rejected}`)
  assert.equal(bytesIn, rejected * junk.length)
  assert.equal(files(B).size, 1)
})

test('a remote that is down: batch --memo writes the same rows, exits 0, and says so in one warning line', async () => {
  const server = await startRedis()
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const A = machine()
  const file = rows(50)
  await server.stop()
  const r = rb(['batch', 'm', '-f', file, '--memo', '--chunk-size', '100', ...T], A, env)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.split('\n').length, 51)
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('burn:'))
  assert.equal(warnings.length, 1, r.stderr)
  assert.match(warnings[0], /^burn: remote cache .* is unavailable \(.*\); going on with the local cache only$/)
  assert.equal(files(A).size, 1)
  verifyClean(A)
})

test('no BURN_REMOTE_KEY: batch --memo neither fetches nor publishes rows, and does not connect for them', async () => {
  const server = await startRedis()
  const A = machine()
  const before = await server.connections()
  const file = rows(50)
  const a = memoBatch(A, file, {BURN_REMOTE: server.url})
  assert.equal(a.computed, 50)
  assert.deepEqual([await server.keys('burn:*'), await server.connections()], [[], before])
})

test('read-only mode: a batch fetches the rows others published and publishes none of its own', async () => {
  const server = await startRedis()
  const A = machine()
  const file = rows(100)
  memoBatch(A, file, {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY})
  const before = await server.keys('burn:*')
  // a listed pack the remote does not hold: a read-only machine leaves the set alone
  const [set] = (await rowSets(server)).keys()
  const dead = before.find((k) => k.startsWith('burn:res:'))!.slice(-64, -48) + 'f'.repeat(48)
  await server.call('SADD', set, dead)
  const B = machine()
  const ro = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY, BURN_REMOTE_MODE: 'read-only'}
  const b = memoBatch(B, rows(100, [7]), ro)
  assert.deepEqual([b.ran, b.computed, b.reused], [1, 1, 99])
  assert.deepEqual(await server.keys('burn:*'), before)
  assert.equal(files(B).size, 2)
  assert.ok((await rowSets(server)).get(set)!.includes(dead))
})

test('burn push publishes memoized results and rows packs; another machine then prints them without running the script', async () => {
  const server = await startRedis()
  // A works without any remote: a run --memo result and a batch --memo pack
  const A = machine()
  const r = rb(['run', 'm', '--memo', '--input', '[{"x":1}]', ...T], A)
  assert.deepEqual([r.code, r.stderr], [0, 'rows 1\n'])
  const file = rows(100)
  const a = memoBatch(A, file, {})
  assert.equal(files(A).size, 2)
  const env = {BURN_REMOTE: server.url, BURN_REMOTE_KEY: KEY}
  const push = rb(['push', '--json'], A, env)
  assert.equal(push.code, 0, push.stderr)
  // source, compiled form, engine binding, name, the result, the pack and its set membership
  assert.deepEqual(JSON.parse(push.stdout).published, 7)
  for (const [key, bytes] of files(A)) assert.deepEqual(await server.get(`burn:res:${H}:${key}`), sealed(bytes, key))
  // pushed again: only the two records (name, engine binding), which a push replaces; no content, no set member again
  const again = rb(['push', '--json'], A, env)
  assert.deepEqual(JSON.parse(again.stdout).published, 2)
  // B prints A's run result and A's rows, computing nothing
  const B = machine()
  const b = rb(['run', 'm', '--memo', '--input', '[{"x":1}]', ...T], B, env)
  assert.deepEqual([b.code, b.stdout, b.stderr], [0, r.stdout, ''])
  const bb = memoBatch(B, file, env)
  assert.deepEqual([bb.ran, bb.computed, bb.stdout], [0, 0, a.stdout])
  // without the key, push sends no result (it could not be checked by anyone)
  const server2 = await startRedis()
  const plain = rb(['push', '--json'], A, {BURN_REMOTE: server2.url})
  assert.equal(plain.code, 0, plain.stderr)
  assert.deepEqual([await server2.keys('burn:res:*'), await server2.keys('burn:rows:*')], [[], []])
  verifyClean(A)
  verifyClean(B)
})
