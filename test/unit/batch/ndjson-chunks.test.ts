import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ndjsonChunks} from '../../../src/batch/ndjson-chunks.js'

/** `text` in reads of `size` bytes, all into one buffer that each read writes over (as input.ts reads a regular file). */
async function* reusedReads(text: string, size: number): AsyncGenerator<Buffer> {
  const all = Buffer.from(text)
  const buf = Buffer.alloc(size)
  for (let at = 0; at < all.length; at += size) {
    const n = all.copy(buf, 0, at, Math.min(all.length, at + size))
    yield buf.subarray(0, n)
    buf.fill(0x23) // '#': what a chunk still reading the last read would now see
  }
}

/** The chunks' bytes as text, each read before the next chunk is asked for (the contract of `reused`). */
async function chunkTexts(text: string, readSize: number, rows: number): Promise<string[]> {
  const out: string[] = []
  const opts = {rows, maxBytes: Infinity, startOffset: 0, keepBytes: true, reused: true}
  for await (const c of ndjsonChunks(reusedReads(text, readSize), opts)) out.push(c.bytes!.toString())
  return out
}

describe('ndjsonChunks over a buffer read into again (--memo on a regular file)', () => {
  const lines = Array.from({length: 40}, (_, i) => JSON.stringify({id: i, s: 'x'.repeat(i % 9)}))
  const text = lines.join('\n') + '\n'

  for (const readSize of [7, 64, 200, 1 << 16]) {
    it(`chunks that span reads of ${readSize} bytes, some of them several, hold their own bytes`, async () => {
      const want: string[] = []
      for (let i = 0; i < lines.length; i += 3) want.push(lines.slice(i, i + 3).join('\n'))
      // (the last chunk keeps its final newline: the runner skips it)
      want[want.length - 1] += '\n'
      assert.deepEqual(await chunkTexts(text, readSize, 3), want)
    })
  }

  it('a last line without a newline, started in an earlier read', async () => {
    assert.deepEqual(await chunkTexts('{"a":1}\n{"b":22222222}', 10, 1), ['{"a":1}', '{"b":22222222}'])
  })
})
