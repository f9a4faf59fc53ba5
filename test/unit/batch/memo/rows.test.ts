import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {rowSpans} from '../../../../src/batch/memo/rows.js'
import type {Chunk} from '../../../../src/batch/types.js'

const chunk = (text: string, rows: number, format: Chunk['format'] = 'ndjson'): Chunk => {
  const bytes = Buffer.from(text)
  return {index: 0, firstRow: 0, rows, format, offset: 0, length: bytes.length, bytes, firstLine: 1}
}

describe('rowSpans', () => {
  it('NDJSON: each non-blank line, without its newline; a blank line (spaces, tabs, CR) is no row', () => {
    const scratch = {spans: new Int32Array(0)}
    assert.deepEqual([...rowSpans(chunk('{"a":1}\n \t\r\n[2]\n3', 3), scratch)!], [0, 7, 12, 15, 16, 17])
  })

  it('JSON: each element, without the commas', () => {
    const scratch = {spans: new Int32Array(0)}
    assert.deepEqual([...rowSpans(chunk('[{"a":"x,y"}, 2]', 2, 'json'), scratch)!], [1, 12, 14, 15])
  })

  it("a count other than the reader's is undefined, more rows or fewer, in either format", () => {
    const scratch = {spans: new Int32Array(0)}
    assert.equal(rowSpans(chunk('1\n2\n3\n', 2), scratch), undefined)
    assert.equal(rowSpans(chunk('1\n2\n3\n', 4), scratch), undefined)
    assert.equal(rowSpans(chunk('[1,2,3]', 2, 'json'), scratch), undefined)
    assert.equal(rowSpans(chunk('[1,2,3]', 4, 'json'), scratch), undefined)
    assert.equal(rowSpans(chunk('[1,', 1, 'json'), scratch), undefined)
  })

  it('the scratch is reused: a smaller chunk after a larger one gets its own spans, exactly', () => {
    const scratch = {spans: new Int32Array(0)}
    const big = rowSpans(chunk('aa\nbb\ncc\ndd\n', 4), scratch)!
    assert.equal(big.length, 8)
    const arrays = scratch.spans
    assert.deepEqual([...rowSpans(chunk('x\nyyy\n', 2), scratch)!], [0, 1, 2, 5])
    assert.equal(scratch.spans, arrays)
  })
})
