import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {Layout} from '../../../src/store/layout.js'
import {rowsScope} from '../../../src/store/results/key.js'
import {PACK_BYTES, RowIndex, RowPackWriter, rowHash} from '../../../src/store/results/rows.js'

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
  const id = index.find(b, 2, b.length - 2, hint)
  if (id < 0) return undefined
  const out = Buffer.alloc(index.resultLength(id))
  index.copyResult(id, out, 0)
  return out.toString()
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
    const big = 'x'.repeat(1024 * 1024)
    const rows: Array<[string, string]> = Array.from({length: 20}, (_, i) => [`"${i}${big}"`, String(i)])
    assert.equal(await write(layout, scope, rows), 20)
    const names = readdirSync(layout.resultsOf(HASH))
    // (7 rows of 1 MiB fill a pack's 8 MiB of rows)
    assert.deepEqual([PACK_BYTES, names.length], [8 * 1024 * 1024, 3])
    assert.ok(names.every((n) => n.startsWith(scope.slice(0, 16))))
    const index = await RowIndex.load(layout, HASH, scope)
    assert.deepEqual(
      rows.map(([r]) => lookup(index, r)),
      rows.map(([, o]) => o),
    )
  })
})
