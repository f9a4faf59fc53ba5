import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {decodeResult, encodeResult} from '../../../src/store/results/format.js'
import {canonicalInput, memoKey} from '../../../src/store/results/key.js'
import {loadXxh64} from '../../../src/util/hash.js'

const HASH = 'ab'.repeat(32)
const KEY = 'cd'.repeat(32)
const LIMITS = {timeoutMs: 1000, memoryBytes: 64 * 1024 * 1024, maxOutputBytes: 1024, maxLogBytes: 1024}

describe('stored result format', () => {
  it('reads back what it wrote, and reads the key of a key record', async () => {
    const xxh = await loadXxh64()
    const buf = encodeResult({hash: HASH, key: KEY}, Buffer.from('{"a":1}'), xxh)
    assert.equal(buf.length, 108 + 7)
    assert.equal(buf.subarray(0, 8).toString('latin1'), 'BURNRS1\n')
    const d = decodeResult(buf, {hash: HASH, key: KEY}, xxh)
    assert.ok(d.ok)
    assert.deepEqual([d.meta, d.payload.toString()], [{hash: HASH, key: KEY}, '{"a":1}'])
    assert.deepEqual(decodeResult(buf, {}, xxh).ok && decodeResult(buf, {}, xxh), {
      ok: true,
      meta: {hash: HASH, key: KEY},
      payload: d.payload,
    })
    const empty = decodeResult(encodeResult({hash: HASH, key: KEY}, Buffer.alloc(0), xxh), {hash: HASH, key: KEY}, xxh)
    assert.ok(empty.ok && empty.payload.length === 0)
  })

  it('refuses every flipped bit, every truncation, an appended byte, another script or key', async () => {
    const xxh = await loadXxh64()
    const buf = encodeResult({hash: HASH, key: KEY}, Buffer.from('[1,2,3]'), xxh)
    for (let i = 0; i < buf.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = Buffer.from(buf)
        b[i] ^= 1 << bit
        assert.equal(decodeResult(b, {hash: HASH, key: KEY}, xxh).ok, false, `byte ${i} bit ${bit}`)
      }
    }
    for (let n = 0; n < buf.length; n++) assert.equal(decodeResult(buf.subarray(0, n), {hash: HASH, key: KEY}, xxh).ok, false, `${n} bytes`)
    assert.deepEqual(decodeResult(Buffer.alloc(0), {}, xxh), {ok: false, reason: 'truncated (0 bytes)'})
    assert.deepEqual(decodeResult(Buffer.concat([buf, Buffer.from('x')]), {}, xxh), {
      ok: false,
      reason: 'payload is 8 bytes, header says 7',
    })
    assert.deepEqual(decodeResult(buf, {hash: KEY}, xxh), {ok: false, reason: `made by script ${HASH}, not ${KEY}`})
    assert.deepEqual(decodeResult(buf, {key: HASH}, xxh), {ok: false, reason: `stored under key ${KEY}, not ${HASH}`})
  })
})

describe('memo key', () => {
  it('canonicalizes JSON whitespace and spelling, keeps key order, refuses lossy inputs', () => {
    assert.equal(canonicalInput(' { "a" : 1.0, "b": [ 1e2, "\\u0041" ] } '), '{"a":1,"b":[100,"A"]}')
    assert.equal(canonicalInput('{"b":1,"a":2}'), '{"b":1,"a":2}')
    assert.equal(canonicalInput('-0'), undefined)
    assert.equal(canonicalInput('[1e400]'), undefined)
    assert.equal(canonicalInput('{'), undefined)
  })

  it('differs for another script, engine, --fuel on quickjs, input; not for other --timeout or whitespace', () => {
    const base = {hash: HASH, engine: 'quickjs' as const, input: '{"a":1}', limits: LIMITS}
    const k = memoKey(base)
    assert.match(k, /^[0-9a-f]{64}$/)
    assert.equal(memoKey({...base, input: '{ "a": 1 }'}), k)
    assert.equal(memoKey({...base, limits: {...LIMITS, timeoutMs: 5, memoryBytes: 1}}), k)
    const others = [
      memoKey({...base, hash: KEY}),
      memoKey({...base, engine: 'v8'}),
      memoKey({...base, limits: {...LIMITS, fuel: 10}}),
      memoKey({...base, limits: {...LIMITS, fuel: 11}}),
      memoKey({...base, input: '{"a":2}'}),
      memoKey({...base, input: '-0'}),
      memoKey({...base, input: '0'}),
    ]
    assert.equal(new Set([k, ...others]).size, 8)
    // --fuel is refused on v8: it is no part of a v8 key
    assert.equal(memoKey({...base, engine: 'v8', limits: {...LIMITS, fuel: 10}}), memoKey({...base, engine: 'v8'}))
  })
})
