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
