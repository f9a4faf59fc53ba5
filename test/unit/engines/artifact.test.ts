import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {describe, it} from 'node:test'
import {decodeArtifact, encodeArtifact} from '../../../src/engines/artifact.js'
import {loadXxh64} from '../../../src/util/hash.js'

describe('compiled artifact header', async () => {
  const xxh = await loadXxh64()
  const source = Buffer.from('module.exports = 1\n')
  const hash = createHash('sha256').update(source).digest('hex')
  const meta = {tag: 'v8-test-tag', sourceHash: hash, sourceXxh: xxh(source), sourceLength: source.length}
  const payload = Buffer.from('payload bytes of a code cache')
  const good = encodeArtifact(meta, payload, xxh)

  it('round-trips', () => {
    const d = decodeArtifact(good, {tag: meta.tag, sourceHash: hash}, xxh)
    assert.ok(d.ok)
    assert.deepEqual(d.payload, payload)
    assert.deepEqual(d.meta, {...meta, warm: false})
    const w = decodeArtifact(encodeArtifact({...meta, warm: true}, payload, xxh), {tag: meta.tag, sourceHash: hash}, xxh)
    assert.ok(w.ok && w.meta.warm === true)
  })

  it('every single flipped byte anywhere is caught', () => {
    for (let i = 0; i < good.length; i++) {
      const bad = Buffer.from(good)
      bad[i] ^= 0x01
      const d = decodeArtifact(bad, {tag: meta.tag, sourceHash: hash}, xxh)
      assert.equal(d.ok, false, `byte ${i} flipped was accepted`)
    }
  })

  it('every truncation is caught, and so is an appended byte', () => {
    for (let n = 0; n < good.length; n++)
      assert.equal(decodeArtifact(good.subarray(0, n), {tag: meta.tag, sourceHash: hash}, xxh).ok, false)
    assert.equal(decodeArtifact(Buffer.concat([good, Buffer.from([0])]), {tag: meta.tag, sourceHash: hash}, xxh).ok, false)
  })

  it('another tag or another source hash is a miss with a reason', () => {
    assert.deepEqual(decodeArtifact(good, {tag: 'v8-other', sourceHash: hash}, xxh), {
      ok: false,
      reason: 'engine tag v8-test-tag is not v8-other',
    })
    const other = 'f'.repeat(64)
    assert.deepEqual(decodeArtifact(good, {tag: meta.tag, sourceHash: other}, xxh), {
      ok: false,
      reason: `made from source ${hash}, not ${other}`,
    })
  })
})

describe('compiled artifact header: the layout and each reason', async () => {
  const xxh = await loadXxh64()
  const source = Buffer.from('module.exports = 2\n')
  const hash = createHash('sha256').update(source).digest('hex')
  const meta = {tag: 'v8-tag', sourceHash: hash, sourceXxh: xxh(source), sourceLength: source.length}
  const payload = Buffer.from('0123456789')
  const good = encodeArtifact(meta, payload, xxh)
  const headerLen = 8 + 4 + 4 + 4 + 2 + 6 + 32 + 40
  const expect = {tag: meta.tag, sourceHash: hash}
  // With a checksum that always agrees, each structural check is seen on its own.
  const agree = () => 0n
  const edited = (edit: (b: Buffer) => void) => {
    const b = Buffer.from(encodeArtifact(meta, payload, agree))
    edit(b)
    return b
  }
  const reason = (b: Buffer, x: (d: Uint8Array) => bigint = agree) => {
    const d = decodeArtifact(b, expect, x)
    return d.ok ? 'ok' : d.reason
  }

  it('writes the documented fields, in order, little-endian', () => {
    assert.equal(good.length, headerLen + payload.length)
    assert.equal(good.toString('latin1', 0, 8), 'BURNCC1\n')
    assert.deepEqual([good.readUInt32LE(8), good.readUInt32LE(12), good.readUInt32LE(16), good.readUInt16LE(20)], [1, headerLen, 0, 6])
    assert.equal(good.toString('utf8', 22, 28), 'v8-tag')
    assert.equal(good.toString('hex', 28, 60), hash)
    assert.equal(good.readBigUInt64LE(60), meta.sourceXxh)
    assert.equal(good.readBigUInt64LE(68), BigInt(source.length))
    assert.equal(good.readBigUInt64LE(76), BigInt(payload.length))
    assert.equal(good.readBigUInt64LE(84), xxh(payload))
    assert.equal(good.readBigUInt64LE(92), xxh(good.subarray(0, 92)))
    assert.deepEqual(good.subarray(headerLen), payload)
    const warm = encodeArtifact({...meta, warm: true}, payload, xxh)
    assert.equal(warm.readUInt32LE(16), 1)
    assert.equal(encodeArtifact({...meta, warm: false}, payload, xxh).readUInt32LE(16), 0)
  })

  it('says why it refuses each field', () => {
    assert.equal(reason(good.subarray(0, 21), xxh), 'truncated (21 bytes)')
    assert.equal(reason(good.subarray(0, 22), xxh), 'bad header length')
    assert.equal(reason(Buffer.alloc(0), xxh), 'truncated (0 bytes)')
    assert.equal(reason(edited((b) => (b[7] = 0x0a + 1))), 'bad magic')
    assert.equal(reason(edited((b) => b.writeUInt32LE(2, 8))), 'unknown artifact format 2')
    assert.equal(reason(edited((b) => b.writeUInt32LE(0, 8))), 'unknown artifact format 0')
    assert.equal(reason(edited((b) => b.writeUInt32LE(headerLen + 1, 12))), 'bad header length')
    assert.equal(reason(edited((b) => b.writeUInt32LE(headerLen - 1, 12))), 'bad header length')
    assert.equal(reason(edited((b) => b.writeUInt16LE(7, 20))), 'bad header length')
    assert.equal(reason(edited(() => {}).subarray(0, headerLen - 1)), 'bad header length')
    assert.equal(reason(edited((b) => b.writeUInt32LE(2, 16))), 'unknown flags 2')
    assert.equal(reason(edited((b) => b.writeUInt32LE(1, 16))), 'ok')
    assert.equal(reason(edited(() => {}).subarray(0, headerLen)), `payload is 0 bytes, header says ${payload.length}`)
    assert.equal(
      reason(Buffer.concat([good, Buffer.from('!')]), xxh),
      `payload is ${payload.length + 1} bytes, header says ${payload.length}`,
    )
    const flipped = (at: number) => {
      const b = Buffer.from(good)
      b[at] ^= 1
      return b
    }
    assert.equal(reason(flipped(60), xxh), 'header checksum mismatch')
    assert.equal(reason(flipped(92), xxh), 'header checksum mismatch')
    assert.equal(reason(flipped(good.length - 1), xxh), 'payload checksum mismatch')
    assert.equal(reason(flipped(headerLen), xxh), 'payload checksum mismatch')
  })

  it('decodes the meta as written, a warm flag included', () => {
    const d = decodeArtifact(encodeArtifact({...meta, warm: true}, payload, xxh), expect, xxh)
    assert.deepEqual(d, {ok: true, meta: {...meta, warm: true}, payload})
    const e = decodeArtifact(Buffer.concat([encodeArtifact(meta, Buffer.alloc(0), xxh)]), expect, xxh)
    assert.deepEqual(e, {ok: true, meta: {...meta, warm: false}, payload: Buffer.alloc(0)})
  })
})
