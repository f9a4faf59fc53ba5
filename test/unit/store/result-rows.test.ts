import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {Layout} from '../../../src/store/layout.js'
import {rowsScope} from '../../../src/store/results/key.js'
import {RowIndex} from '../../../src/store/results/row-index.js'
import {writeResult} from '../../../src/store/results/memo.js'
import {PACK_BYTES, RowPackWriter, rowHash} from '../../../src/store/results/rows.js'

const HASH = 'ab'.repeat(32)
const LIMITS = {timeoutMs: 1000, memoryBytes: 64 * 1024 * 1024, maxOutputBytes: 1024, maxLogBytes: 1024}
const root = mkdtempSync(join(tmpdir(), 'burn-rows-'))
after(() => rmSync(root, {recursive: true, force: true}))

function store(name: string): Layout {
  const layout = new Layout(join(root, name))
  mkdirSync(layout.tmpDir, {recursive: true, mode: 0o700})
  return layout
}

async function write(layout: Layout, scope: string, rows: Array<[string, string]>): Promise<number> {
  const w = new RowPackWriter(layout, HASH, scope)
  for (const [row, result] of rows) {
    const r = Buffer.from(row)
    const o = Buffer.from(result)
    w.add(r, 0, r.length, o, 0, o.length)
  }
  return w.close()
}

function lookup(index: RowIndex, row: string, hint = -1): string | undefined {
  const b = Buffer.from(`xx${row}yy`)
  // (the entry `hint` when it is that row, else anywhere: as batch/memo/plan.ts looks)
  const id = hint >= 0 && hint < index.size && index.equalsRow(hint, b, 2, b.length - 2) ? hint : index.lookup(b, 2, b.length - 2)
  if (id < 0) return undefined
  // (a result is copied with the '\n' that ends it)
  const out = Buffer.alloc(index.resultBytes(id, 1))
  assert.equal(index.copyResults(id, 1, out, 0), out.length)
  assert.equal(out[out.length - 1], 0x0a)
  return out.subarray(0, -1).toString()
}

/** Two different rows with the same 32-bit row hash (a birthday search over small objects). */
function collision(): [string, string] {
  const seen = new Map<number, string>()
  for (let i = 0; ; i++) {
    const row = `{"id":${i}}`
    const b = Buffer.from(row)
    const h = rowHash(b, 0, b.length)
    const other = seen.get(h)
    if (other !== undefined) return [other, row]
    seen.set(h, row)
  }
}

describe('batch --memo row packs', () => {
  it('finds stored rows by their exact bytes, with or without a hint; another scope reads nothing', async () => {
    const layout = store('basic')
    const scope = rowsScope({hash: HASH, engine: 'v8', limits: LIMITS})
    assert.equal(
      await write(layout, scope, [
        ['{"a":1}', '2'],
        ['{"a":2}', '"x,y"'],
        ['{"a": 1}', '3'],
      ]),
      3,
    )
    const index = await RowIndex.load(layout, HASH, scope)
    assert.equal(index.size, 3)
    assert.deepEqual(
      ['{"a":1}', '{"a":2}', '{"a": 1}', '{"a":3}', '{"a":1} '].map((r) => lookup(index, r)),
      ['2', '"x,y"', '3', undefined, undefined],
    )
    // a hint at the wrong entry is only a hint
    assert.deepEqual([lookup(index, '{"a":2}', 0), lookup(index, '{"a":2}', 1), lookup(index, '{"a":2}', 99)], ['"x,y"', '"x,y"', '"x,y"'])
    const quickjs = rowsScope({hash: HASH, engine: 'quickjs', limits: LIMITS})
    const fuel = rowsScope({hash: HASH, engine: 'quickjs', limits: {...LIMITS, fuel: 1000}})
    assert.equal(new Set([scope, quickjs, fuel]).size, 3)
    assert.equal((await RowIndex.load(layout, HASH, quickjs)).size, 0)
  })

  it('a row whose hash equals a stored row is still a miss: the bytes are compared', async () => {
    const [a, b] = collision()
    assert.notEqual(a, b)
    const layout = store('collision')
    const scope = rowsScope({hash: HASH, engine: 'v8', limits: LIMITS})
    await write(layout, scope, [[a, '"result of a"']])
    const index = await RowIndex.load(layout, HASH, scope)
    assert.deepEqual([lookup(index, a), lookup(index, b), lookup(index, b, 0)], ['"result of a"', undefined, undefined])
  })

  it('writes a pack per PACK_BYTES of rows and loads them all', async () => {
    const layout = store('packs')
    const scope = rowsScope({hash: HASH, engine: 'v8', limits: LIMITS})
    const big = 'x'.repeat(300 * 1024)
    const rows: Array<[string, string]> = Array.from({length: 20}, (_, i) => [`"${i}${big}"`, String(i)])
    assert.equal(await write(layout, scope, rows), 20)
    const names = readdirSync(layout.resultsOf(HASH))
    // (3 rows of 300 KiB fill a pack's 1 MiB of rows)
    assert.deepEqual([PACK_BYTES, names.length], [1024 * 1024, 7])
    assert.ok(names.every((n) => n.startsWith(scope.slice(0, 16))))
    const index = await RowIndex.load(layout, HASH, scope)
    assert.deepEqual(
      rows.map(([r]) => lookup(index, r)),
      rows.map(([, o]) => o),
    )
  })

  it('a run of stored rows is compared as NDJSON lines and its results copied in one call', async () => {
    const layout = store('lines')
    const scope = rowsScope({hash: HASH, engine: 'v8', limits: LIMITS})
    const rows = ['{"a":1}', '{"a":2}', '[3]', '"four"', '5']
    await write(
      layout,
      scope,
      rows.map((r, i) => [r, `"o${i}"`] as [string, string]),
    )
    const index = await RowIndex.load(layout, HASH, scope)
    const lines = (text: string, id = 0, count = 5) => {
      const b = Buffer.from(`>${text}<`)
      return index.equalsLines(id, count, b, 1, b.length - 1)
    }
    assert.deepEqual([index.size, index.left(0), index.left(3), index.left(5), index.lines(0)], [5, 5, 2, 0, true])
    assert.equal(lines(rows.join('\n')), true)
    assert.equal(lines(rows.slice(1, 4).join('\n'), 1, 3), true)
    // one byte off, a blank line between, a row short, a row too many: not the same
    assert.deepEqual(
      [rows.join('\n').replace('2', '3'), rows.join('\n\n'), rows.slice(0, 4).join('\n'), [...rows, '6'].join('\n')].map((t) => lines(t)),
      [false, false, false, false],
    )
    const out = Buffer.alloc(index.resultBytes(1, 3) + 2, '.')
    assert.equal(index.copyResults(1, 3, out, 1), out.length - 2)
    assert.equal(out.toString(), '."o1"\n"o2"\n"o3"\n.')
  })

  it('reads the packs of an earlier version (BURNROW1: no newline after rows and results), row by row', async () => {
    const layout = store('v1')
    const scope = rowsScope({hash: HASH, engine: 'v8', limits: LIMITS})
    const rows: Array<[string, string]> = [
      ['{"a":1}', '10'],
      ['{"a":2}', '20'],
    ]
    const table = Buffer.alloc(12 * rows.length)
    rows.forEach(([r, o], i) => {
      table.writeUInt32LE(rowHash(Buffer.from(r), 0, r.length), 12 * i)
      table.writeUInt32LE(r.length, 12 * i + 4)
      table.writeUInt32LE(o.length, 12 * i + 8)
    })
    const count = Buffer.alloc(4)
    count.writeUInt32LE(rows.length)
    const payload = Buffer.concat([
      Buffer.from('BURNROW1'),
      Buffer.from(scope, 'hex'),
      count,
      table,
      ...rows.map(([r]) => Buffer.from(r)),
      ...rows.map(([, o]) => Buffer.from(o)),
    ])
    const key = scope.slice(0, 16) + '0'.repeat(48)
    await writeResult(layout, layout.result(HASH, key), {hash: HASH, key}, payload)
    const index = await RowIndex.load(layout, HASH, scope)
    assert.deepEqual([index.size, index.lines(0), lookup(index, '{"a":2}'), lookup(index, '{"a":1}', 0)], [2, false, '20', '10'])
    const out = Buffer.alloc(index.resultBytes(0, 2))
    index.copyResults(0, 2, out, 0)
    assert.equal(out.toString(), '10\n20\n')
  })

  it('more packs than it holds at once: each read again (and checked) when asked for, in any order', async () => {
    const layout = store('slots')
    const scope = rowsScope({hash: HASH, engine: 'v8', limits: LIMITS})
    const big = 'y'.repeat(300 * 1024)
    const rows: Array<[string, string]> = Array.from({length: 30}, (_, i) => [`"${i}${big}"`, `${i * 7}`])
    await write(layout, scope, rows)
    assert.equal(readdirSync(layout.resultsOf(HASH)).length, 10)
    const index = await RowIndex.load(layout, HASH, scope)
    const order = [29, 0, 15, 1, 28, 2, 14, 27, 3, 16, 0, 29]
    assert.deepEqual(
      order.map((i) => lookup(index, rows[i][0], i)),
      order.map((i) => rows[i][1]),
    )
    assert.deepEqual(
      order.map((i) => lookup(index, rows[i][0])),
      order.map((i) => rows[i][1]),
    )
  })

  it('finds the batch a file was batched in by its first row, newest batch first', async () => {
    const layout = store('starts')
    const scope = rowsScope({hash: HASH, engine: 'v8', limits: LIMITS})
    await write(layout, scope, [
      ['{"f":"a","i":1}', '1'],
      ['{"f":"a","i":2}', '2'],
    ])
    await write(layout, scope, [
      ['{"f":"b","i":1}', '3'],
      ['{"f":"a","i":2}', '4'],
    ])
    const index = await RowIndex.load(layout, HASH, scope)
    const start = (row: string) => index.batchStarting(Buffer.from(row), 0, row.length)
    assert.deepEqual([start('{"f":"a","i":1}'), start('{"f":"b","i":1}'), start('{"f":"a","i":2}'), start('{}')], [0, 2, -1, -1])
    // a later batch: entries after the first batch's; a lookup from there on sees no earlier row
    assert.deepEqual([index.after(0), index.after(1), index.after(2), index.after(3)], [2, 2, 4, 4])
    const find = (row: string, from: number) => index.lookup(Buffer.from(row), 0, row.length, from)
    // (the first lookup builds a table of all rows: the later ones must leave out rows before `from`)
    const a2 = '{"f":"a","i":2}'
    assert.deepEqual([find(a2, 0), find(a2, 2), find(a2, 3), find(a2, 4), find('{"f":"a","i":1}', 1)], [1, 3, 3, -1, -1])
  })

  it('a pack whose row count is damaged counts no rows: set aside, never sized by its count', async () => {
    const layout = store('count')
    const scope = rowsScope({hash: HASH, engine: 'v8', limits: LIMITS})
    await write(layout, scope, [['{"a":1}', '1']])
    await write(layout, scope, [['{"a":2}', '2']])
    const [first] = readdirSync(layout.resultsOf(HASH)).sort()
    const path = join(layout.resultsOf(HASH), first)
    const b = readFileSync(path)
    // the u32 count after the result header (108 bytes), the magic and the scope
    b.writeUInt32LE(0xffffffff, 108 + 40)
    writeFileSync(path, b)
    const index = await RowIndex.load(layout, HASH, scope)
    assert.deepEqual([index.size, index.damaged, lookup(index, '{"a":2}'), lookup(index, '{"a":1}')], [1, 1, '2', undefined])
    await index.touch()
    assert.deepEqual(readdirSync(layout.resultsOf(HASH)).length, 1)
  })
})
