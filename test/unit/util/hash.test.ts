import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {describe, it} from 'node:test'
import {sha256} from '../../../src/util/hash.js'

// util/hash.ts hashes small inputs with @noble/hashes and large ones with node:crypto: the
// digests must be SHA-256's on both sides of the size where it switches (16 KiB).

const native = (...parts: Array<Uint8Array | string>) => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

describe('sha256', () => {
  it('is SHA-256 for every size around the switch, and for the empty input', () => {
    let seed = 7
    for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 100_000]) {
      const data = new Uint8Array(n).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24)
      assert.equal(sha256(data), native(data), `${n} bytes`)
    }
    assert.equal(sha256(new Uint8Array(0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('hashes its parts as one input, strings as UTF-8, across the switch too', () => {
    const big = 'é'.repeat(9000)
    for (const parts of [
      ['burn-memo-1\0', 'json\0{"x":1}'],
      ['a', '', 'b'],
      ['\u2028 ☃ \ud83d\ude00', big],
      [big, big],
    ]) {
      assert.equal(sha256(...parts), native(...parts), JSON.stringify(parts).slice(0, 40))
    }
  })
})
