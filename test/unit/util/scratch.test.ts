import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {atLeast, BufferPool} from '../../../src/util/scratch.js'

describe('atLeast', () => {
  it('keeps an array that is long enough, else makes one a quarter longer than asked', () => {
    const a = new Int32Array(10)
    assert.equal(atLeast(a, 10), a)
    assert.equal(atLeast(a, 11).length, 13)
    assert.equal(atLeast(undefined, 4).length, 5)
  })
})

describe('BufferPool', () => {
  it('hands back the memory of a buffer given back, as a view of the size asked', () => {
    const pool = new BufferPool()
    const a = pool.take(1000)
    assert.equal(a.length, 1000)
    a.fill(7)
    pool.give(a)
    const b = pool.take(900)
    assert.equal(b.length, 900)
    assert.equal(b.buffer, a.buffer)
    // a take larger than any buffer in the pool gets new memory
    pool.give(b)
    assert.notEqual(pool.take(5000).buffer, a.buffer)
  })

  it('hands out the smallest buffer that is large enough', () => {
    const pool = new BufferPool()
    const [big, small, smaller] = [pool.take(5000), pool.take(100), pool.take(30)]
    for (const x of [big, small, smaller]) pool.give(x)
    assert.equal(pool.take(50).buffer, small.buffer)
    assert.equal(pool.take(50).buffer, big.buffer)
  })

  it('never hands the same memory to two takers, even when a buffer is given back twice', () => {
    const pool = new BufferPool()
    const a = pool.take(64)
    pool.give(a)
    pool.give(a.subarray(0, 10))
    const b = pool.take(64)
    const c = pool.take(64)
    assert.equal(b.buffer, a.buffer)
    assert.notEqual(c.buffer, b.buffer)
  })

  it('keeps at most `keep` buffers, none larger than `largest`', () => {
    const pool = new BufferPool(2, 4096)
    const big = pool.take(8192)
    pool.give(big)
    assert.notEqual(pool.take(100).buffer, big.buffer)
    const [a, b, c] = [pool.take(10), pool.take(10), pool.take(10)]
    for (const x of [a, b, c]) pool.give(x)
    const again = new Set([pool.take(10).buffer, pool.take(10).buffer, pool.take(10).buffer])
    assert.ok(again.has(a.buffer) && again.has(b.buffer) && !again.has(c.buffer))
  })

  it('never takes memory shared with other buffers (not a slice of the 8 KiB slab node shares)', () => {
    const pool = new BufferPool()
    const a = pool.take(16)
    assert.equal(a.byteOffset, 0)
    assert.ok(a.buffer.byteLength < 8192, `${a.buffer.byteLength} bytes: a slice of the shared slab`)
  })
})
