import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {Layout} from '../../src/store/layout.js'
import {rowsScope} from '../../src/store/results/key.js'
import {RowIndex} from '../../src/store/results/row-index.js'
import {burn, json, register, stats, tmp, writeScript, type Result} from '../helpers.js'

// `burn batch --memo` end to end (issue 14 item 6): the built binary, real processes, exact bytes.
const dir = tmp('burn-batch-memo-')
const T = ['--timeout', '60s']

// Says on stderr how many rows each call got, so the rows that went to a runner can be counted.
const MAP = 'module.exports = (rows) => { console.error("rows " + rows.length); return rows.map((r) => ({id: r.id, y: r.x * 2, s: r.s})) }'

function fresh(name: string, source = MAP, engines = ['v8']): {cacheDir: string; hash: string} {
  const cacheDir = join(dir, name)
  const file = writeScript(join(dir, `${name}-src`), 'script.js', source)
  let hash = ''
  for (const e of engines) hash = register(cacheDir, file, ['--name', 's', '--engine', e])
  return {cacheDir, hash}
}

const batch = (cacheDir: string, args: string[]) => burn(['batch', 's', ...T, ...args], {cacheDir, timeoutMs: 180_000})

/** The --json summary (stderr's last line) and the rows the script was called with (its own stderr lines). */
function summary(r: Result): {summary: Record<string, unknown>; ran: number} {
  const lines = r.stderr.trimEnd().split('\n')
  const ran = lines.slice(0, -1).reduce((n, l) => n + Number(/^rows (\d+)$/.exec(l)?.[1] ?? NaN), 0)
  return {summary: JSON.parse(lines[lines.length - 1]) as Record<string, unknown>, ran}
}

const packs = (cacheDir: string, hash: string): string[] => {
  const d = join(cacheDir, 'results', hash.slice(0, 2), hash)
  return existsSync(d) ? readdirSync(d).map((f) => join(d, f)) : []
}

const row = (i: number, x = i) => ({id: i, x, s: i % 7 === 0 ? `a,b\n"c"]` : 'plain'})

function writeRows(file: string, n: number, format: 'ndjson' | 'json', changed: Set<number> = new Set()): void {
  const rows = Array.from({length: n}, (_, i) => row(i + 1, changed.has(i + 1) ? -(i + 1) : i + 1))
  writeFileSync(file, format === 'ndjson' ? rows.map((r) => JSON.stringify(r)).join('\n') + '\n' : JSON.stringify(rows, null, 1))
}

/** A plain batch and a --memo batch of the same rows: the same bytes and exit code; returns the memo run's summary. */
function sameAsPlain(cacheDir: string, args: string[]): {summary: Record<string, unknown>; ran: number; stdout: string} {
  const plain = batch(cacheDir, args)
  const memo = batch(cacheDir, [...args, '--memo', '--json'])
  assert.equal(plain.code, 0, plain.stderr)
  assert.equal(memo.code, 0, memo.stderr)
  assert.ok(
    memo.stdout === plain.stdout,
    `--memo output differs from a plain batch (${memo.stdout.length} vs ${plain.stdout.length} bytes)`,
  )
  return {...summary(memo), stdout: memo.stdout}
}

const counts = (s: Record<string, unknown>) => [s.rowsIn, s.rowsOut, s.rowsComputed, s.rowsReused]
const memoCounters = (cacheDir: string) => {
  const c = stats(cacheDir)
  return ['memo.hits', 'memo.misses', 'memo.stored'].map((id) => c[id] ?? 0)
}

describe('burn batch --memo', () => {
  it('100k NDJSON rows, then again with 10 rows changed: the bytes of a plain batch both times; only the 10 rows run', () => {
    const {cacheDir} = fresh('big')
    const input = join(dir, 'big.ndjson')
    writeRows(input, 100_000, 'ndjson')
    const first = sameAsPlain(cacheDir, ['-f', input])
    assert.deepEqual(counts(first.summary), [100_000, 100_000, 100_000, 0])
    assert.equal(first.ran, 100_000)
    assert.deepEqual(memoCounters(cacheDir), [0, 100_000, 100_000])
    const changed = new Set([1, 2, 500, 2000, 2001, 33_333, 50_000, 77_777, 99_999, 100_000])
    writeRows(input, 100_000, 'ndjson', changed)
    const second = sameAsPlain(cacheDir, ['-f', input])
    assert.deepEqual(counts(second.summary), [100_000, 100_000, 10, 99_990])
    assert.equal(second.ran, 10)
    assert.deepEqual(memoCounters(cacheDir), [99_990, 100_010, 100_010])
    // the same rows once more: nothing runs, and the human summary says so
    const third = batch(cacheDir, ['-f', input, '--memo', '--progress'])
    assert.equal(third.stdout, second.stdout)
    assert.match(
      third.stderr,
      /^batch: 100000 rows in, 100000 rows out, 0 chunks failed, 0 rows computed, 100000 rows reused, \d+\.\d\ds\n$/,
    )
    // 10 other rows changed, into a file: written in the background while later chunks are put
    // together in the buffers of the chunks written before (memo/batch-memo.ts; one runner, so
    // 8 chunks in flight of the 50 and the buffers go round); the bytes of a plain batch
    writeRows(input, 100_000, 'ndjson', new Set([3, 4, 999, 2500, 40_000, 40_001, 66_666, 88_888, 99_997, 99_998]))
    const plain = batch(cacheDir, ['-f', input])
    const out = join(dir, 'big.out')
    const fourth = batch(cacheDir, ['-f', input, '--memo', '--json', '--concurrency', '1', '-o', out])
    assert.equal(fourth.code, 0, fourth.stderr)
    assert.deepEqual(counts(summary(fourth).summary), [100_000, 100_000, 10, 99_990])
    assert.ok(readFileSync(out, 'utf8') === plain.stdout, 'the --output file differs from a plain batch')
  })

  it('a re-run that computes few rows keeps to one runner; one that computes most starts the others', () => {
    // Each row says which runner computed it (v8 runs trusted code: the runner's own process
    // object is reachable), and a call with a changed row takes 30 ms, so the rows not found
    // queue up behind the runner and would start a second one (--concurrency 2).
    const source =
      "const P = this.constructor.constructor('return process')().pid\n" +
      'module.exports = (rows) => { if (rows.some((r) => r.x < 0)) { const end = Date.now() + 30; while (Date.now() < end); } ' +
      'return rows.map((r) => ({id: r.id, pid: r.x < 0 ? P : 0})) }'
    const {cacheDir} = fresh('runners', source)
    const input = join(dir, 'runners.ndjson')
    const n = 100_000
    writeRows(input, n, 'ndjson')
    const args = ['-f', input, '--memo', '--json', '--concurrency', '2']
    assert.equal(batch(cacheDir, args).code, 0)
    const runners = (changed: Set<number>) => {
      writeRows(input, n, 'ndjson', changed)
      const r = batch(cacheDir, args)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(summary(r).summary.rowsComputed, changed.size)
      const pids = r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as {pid: number}).pid)
      return new Set(pids.filter((p) => p !== 0)).size
    }
    // 1% of the rows, 20 in each chunk of 2000: every group of them waits 30 ms
    assert.equal(runners(new Set(Array.from({length: n / 100}, (_, i) => 100 * i + 1))), 1)
    // rows 50,001-90,000 but those changed above (20 chunks computed nearly whole, each 30 ms)
    assert.equal(runners(new Set(Array.from({length: 40_000}, (_, i) => 50_001 + i).filter((r) => r % 100 !== 1))), 2)
  })

  for (const engine of ['v8', 'quickjs']) {
    it(`${engine}: a JSON array in, a JSON array out (rows holding commas and newlines), stdin too`, () => {
      const {cacheDir} = fresh(`json-${engine}`, MAP, [engine])
      const input = join(dir, `rows-${engine}.json`)
      writeRows(input, 20_000, 'json')
      const args = ['-f', input, '--engine', engine, '--output-format', 'json']
      const first = sameAsPlain(cacheDir, args)
      assert.deepEqual(counts(first.summary), [20_000, 20_000, 20_000, 0])
      writeRows(input, 20_000, 'json', new Set([7, 14, 19_999]))
      const second = sameAsPlain(cacheDir, args)
      assert.deepEqual(counts(second.summary), [20_000, 20_000, 3, 19_997])
      assert.equal(second.ran, 3)
      const fromStdin = burn(['batch', 's', ...T, '--engine', engine, '--output-format', 'json', '--memo', '--json'], {
        cacheDir,
        input: readFileSync(input),
        timeoutMs: 180_000,
      })
      assert.equal(fromStdin.stdout, second.stdout)
      assert.deepEqual(counts(summary(fromStdin).summary), [20_000, 20_000, 0, 20_000])
    })
  }

  it('quickjs reads a fixed clock under --memo, so a stored row is what a run computes again', () => {
    const {cacheDir} = fresh('clock', 'module.exports = (rows) => rows.map((r) => ({r, t: Date.now(), d: new Date().toISOString()}))', [
      'quickjs',
    ])
    const a = batch(cacheDir, ['--memo'])
    assert.equal(a.code, 0)
    const r = burn(['batch', 's', ...T, '--memo'], {cacheDir, input: '1\n2\n'})
    assert.equal(
      r.stdout,
      '{"r":1,"t":946684800000,"d":"2000-01-01T00:00:00.000Z"}\n{"r":2,"t":946684800000,"d":"2000-01-01T00:00:00.000Z"}\n',
    )
  })

  it('a damaged pack is never used: its rows are recomputed; verify finds it, --fix sets it aside', () => {
    const {cacheDir, hash} = fresh('damage')
    const input = join(dir, 'damage.ndjson')
    writeRows(input, 3000, 'ndjson')
    const first = sameAsPlain(cacheDir, ['-f', input])
    const [pack] = packs(cacheDir, hash)
    assert.equal(packs(cacheDir, hash).length, 1)
    flip(pack, 200)
    const v = burn(['verify', '--json'], {cacheDir})
    assert.equal(v.code, 8)
    assert.deepEqual(
      json(v).problems.map((p: Record<string, unknown>) => [p.kind, p.path, p.detail]),
      [['result-bad', pack.slice(cacheDir.length + 1), 'payload checksum mismatch']],
    )
    const fixed = burn(['verify', '--fix', '--json'], {cacheDir})
    assert.deepEqual([fixed.code, json(fixed).problems[0].fixed, existsSync(pack)], [0, true, false])
    const again = sameAsPlain(cacheDir, ['-f', input])
    assert.deepEqual(counts(again.summary), [3000, 3000, 3000, 0])
    assert.equal(again.stdout, first.stdout)
    // a damaged pack that a batch meets first: set aside there, and its rows run again
    const [pack2] = packs(cacheDir, hash)
    flip(pack2, statSync(pack2).size - 3)
    const third = sameAsPlain(cacheDir, ['-f', input])
    assert.deepEqual(counts(third.summary), [3000, 3000, 3000, 0])
    // (set aside to damaged/, which gc sweeps; the rows it held are stored again in a new pack)
    assert.deepEqual([existsSync(pack2), packs(cacheDir, hash).length, burn(['verify'], {cacheDir}).code], [false, 1, 0])
    assert.equal(readdirSync(join(cacheDir, 'damaged')).filter((f) => f.startsWith('result.')).length, 2)
  })

  it('a file batched before runs nothing again; rows inserted or removed run alone; rows are stored in input order', async () => {
    // chunk 0 holds the slow row: the chunks after it finish first
    const slow =
      'module.exports = (rows) => { console.error("rows " + rows.length); if (rows.some((r) => r.slow)) { const t = Date.now() + 300; while (Date.now() < t); } return rows.map((r) => ({id: r.id, y: r.x * 2})) }'
    const {cacheDir, hash} = fresh('order', slow)
    const lines = (n: number, changed = new Set<number>()) =>
      Array.from({length: n}, (_, i) =>
        JSON.stringify({id: i + 1, x: changed.has(i + 1) ? 1000 + i : i + 1, ...(i === 0 ? {slow: true} : {})}),
      )
    const file = (name: string, rows: string[]) => {
      const f = join(dir, `order-${name}.ndjson`)
      writeFileSync(f, rows.join('\n') + '\n')
      return f
    }
    const a = lines(400)
    const b = lines(400, new Set([100, 101, 102, 103, 104, 105, 106, 107, 108, 250]))
    const c = ['{"id":-1,"x":1}', '{"id":-2,"x":2}', '{"id":-3,"x":3}', ...a.filter((_, i) => i !== 199)]
    const args = ['--chunk-size', '50', '--concurrency', '2']
    const ran = (name: string, rows: string[]) => sameAsPlain(cacheDir, ['-f', file(name, rows), ...args])
    const first = ran('a', a)
    assert.deepEqual([counts(first.summary), first.ran], [[400, 400, 400, 0], 400])
    // the rows of every chunk stored after the chunks before it, however they finished
    const scope = rowsScope({hash, engine: 'v8', limits: {timeoutMs: 60_000, memoryBytes: 0, maxOutputBytes: 0, maxLogBytes: 0}})
    const index = await RowIndex.load(new Layout(cacheDir), hash, scope)
    assert.equal(index.size, 400)
    assert.deepEqual(
      a.map((r, i) => index.equalsRow(i, Buffer.from(r), 0, r.length)),
      a.map(() => true),
    )
    assert.deepEqual(
      ['b', 'a', 'b', 'c'].map((name) => ran(`${name}2`, {a, b, c}[name]!)).map((r) => [r.summary.rowsComputed, r.ran]),
      [
        [10, 10],
        [0, 0],
        [0, 0],
        [3, 3],
      ],
    )
  })

  it('rows of a chunk that failed are not stored; a failure reads as without --memo', () => {
    const src =
      'module.exports = (rows) => { console.error("rows " + rows.length); return rows.map((r) => { if (r.bad) throw new Error("bad " + r.id); return r.id }) }'
    const {cacheDir, hash} = fresh('fail', src)
    const input = join(dir, 'fail.ndjson')
    writeFileSync(input, '{"id":1}\n{"id":2}\n{"id":3,"bad":true}\n{"id":4}\n')
    const args = ['-f', input, '--chunk-size', '2', '--on-error', 'skip']
    const first = sameAsPlain(cacheDir, args)
    assert.equal(first.stdout, '1\n2\n')
    assert.deepEqual(counts(first.summary), [4, 2, 4, 0])
    assert.deepEqual(memoCounters(cacheDir), [0, 4, 2])
    const second = sameAsPlain(cacheDir, args)
    assert.deepEqual([counts(second.summary), second.ran], [[4, 2, 2, 2], 2])
    assert.deepEqual(memoCounters(cacheDir), [2, 6, 2])
    assert.equal(packs(cacheDir, hash).length, 1)
    // stored rows in a chunk that fails: the whole chunk runs again, so the error names the same row and line
    const mixed = join(dir, 'mixed.ndjson')
    writeFileSync(mixed, '{"id":1}\n{"id":2}\n{"id":3,"bad":true}\n')
    const plain = batch(cacheDir, ['-f', mixed])
    const memo = batch(cacheDir, ['-f', mixed, '--memo'])
    assert.equal(plain.code, 5)
    assert.deepEqual(
      [memo.code, memo.stdout, memo.stderr.replace(/^rows \d+\n/gm, '')],
      [5, plain.stdout, plain.stderr.replace(/^rows \d+\n/gm, '')],
    )
    assert.deepEqual(memoCounters(cacheDir), [2, 9, 2])
  })
})

function flip(path: string, at: number): void {
  const b = readFileSync(path)
  b[at] ^= 0xff
  writeFileSync(path, b)
}
