import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {RowMatcher} from '../../../../src/batch/memo/plan.js'
import {rowSpans} from '../../../../src/batch/memo/rows.js'
import {Layout} from '../../../../src/store/layout.js'
import {rowsScope} from '../../../../src/store/results/key.js'
import {RowIndex} from '../../../../src/store/results/row-index.js'
import {RowPackWriter} from '../../../../src/store/results/rows.js'
import {BufferPool} from '../../../../src/util/scratch.js'

const HASH = 'cd'.repeat(32)
const LIMITS = {timeoutMs: 1000, memoryBytes: 64 * 1024 * 1024, maxOutputBytes: 1024, maxLogBytes: 1024}
const SCOPE = rowsScope({hash: HASH, engine: 'v8', limits: LIMITS})
const root = mkdtempSync(join(tmpdir(), 'burn-memo-plan-'))
after(() => rmSync(root, {recursive: true, force: true}))

/** A store holding `rows` (each row's result: "r" + the row), and a matcher over it. */
async function matcher(name: string, rows: string[]): Promise<RowMatcher> {
  const layout = new Layout(join(root, name))
  mkdirSync(layout.tmpDir, {recursive: true, mode: 0o700})
  const w = new RowPackWriter(layout, HASH, SCOPE)
  for (const r of rows) {
    const row = Buffer.from(r)
    const out = Buffer.from(JSON.stringify(`r${r}`))
    w.add(row, 0, row.length, out, 0, out.length)
  }
  await w.close()
  return new RowMatcher(await RowIndex.load(layout, HASH, SCOPE), new BufferPool())
}

/** The rows of an NDJSON chunk the matcher did not find, and the stored results it found, in order. */
function plan(m: RowMatcher, lines: string): {misses: number[]; stored: string} {
  const bytes = Buffer.from(lines)
  const chunk = {
    index: 0,
    firstRow: 0,
    rows: lines.split('\n').filter((l) => l.trim()).length,
    format: 'ndjson' as const,
    offset: 0,
    length: 0,
    bytes,
    firstLine: 1,
  }
  const p = m.plan(bytes, rowSpans(chunk, {spans: new Int32Array(0)})!, true)!
  return {misses: p.misses, stored: p.stored.toString()}
}

const rows = (n: number, changed: Record<number, string> = {}) => Array.from({length: n}, (_, i) => changed[i] ?? `{"i":${i}}`)

describe("batch --memo: finding a chunk's rows among the stored ones", () => {
  it('rows changed in place are the misses; the others come out in order, found in runs', async () => {
    const m = await matcher('inplace', rows(100))
    const input = rows(100, {37: '{"i":-37}', 38: '{"i":-38}', 90: '{"i":-90}'})
    const p = plan(m, input.join('\n'))
    assert.deepEqual(p.misses, [37, 38, 90])
    const want = input.filter((_, i) => ![37, 38, 90].includes(i)).map((r) => JSON.stringify(`r${r}`) + '\n')
    assert.equal(p.stored, want.join(''))
  })

  it('rows inserted and removed: only the new rows are misses', async () => {
    const m = await matcher('moved', rows(50))
    const input = ['{"new":1}', ...rows(50).filter((_, i) => i !== 20)]
    input.splice(30, 0, '{"new":2}')
    assert.deepEqual(plan(m, input.join('\n')).misses, [0, 30])
  })

  it('a blank line between rows: each row is still compared alone, so a stored row holding a newline is no match', async () => {
    // (a JSON array's element may hold a newline; "1\n" and "2" stored read like the lines "1", "", "2")
    const m = await matcher('blank', ['1\n', '2'])
    assert.deepEqual(plan(m, '1\n\n2'), {misses: [0], stored: '"r2"\n'})
    assert.deepEqual(plan(await matcher('blank2', ['1', '2']), '1\n\n2'), {misses: [], stored: '"r1"\n"r2"\n'})
  })
})
