import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {describe, it} from 'node:test'
import {engineTag} from '../../../src/engines/tag.js'
import {recordedV8Tag, recordV8Tag} from '../../../src/store/v8-tag-record.js'
import {emptyStore} from '../../fixtures/store.js'

// store/v8-tag-record.ts: the v8 tag a memo hit uses without loading node:v8. A record is used
// only for this process's exact fingerprint and only when it spells this Node's version and arch.

const fingerprint = () =>
  JSON.stringify([process.execPath, process.version, process.arch, process.execArgv, process.env.NODE_OPTIONS ?? '', hostname()])

describe('the recorded v8 tag', () => {
  it('is absent until recorded, then the real tag, for this fingerprint only', async () => {
    const {layout} = await emptyStore()
    assert.equal(recordedV8Tag(layout), undefined)
    await recordV8Tag(layout, engineTag('v8'))
    assert.equal(recordedV8Tag(layout), engineTag('v8'))
    assert.deepEqual(JSON.parse(readFileSync(layout.v8TagRecord, 'utf8')), {[fingerprint()]: engineTag('v8')})
    // another process's fingerprint (another binary, flags, host) is not this one's
    writeFileSync(layout.v8TagRecord, JSON.stringify({[fingerprint().replace('[', '[ ')]: engineTag('v8')}))
    assert.equal(recordedV8Tag(layout), undefined)
  })

  it("ignores a record that does not spell this Node's tag, and a damaged file", async () => {
    const {layout} = await emptyStore()
    for (const bad of [
      `v8-node0.0.1-${process.arch}-c3583e1f`,
      `v8-node${process.versions.node}-arm-c3583e1f`,
      `v8-node${process.versions.node}-${process.arch}-`,
      `v8-node${process.versions.node}-${process.arch}-xyz`,
      `quickjs-0.32.0`,
      12,
    ]) {
      writeFileSync(layout.v8TagRecord, JSON.stringify({[fingerprint()]: bad}))
      assert.equal(recordedV8Tag(layout), undefined, String(bad))
    }
    for (const junk of ['', '{', '[]', 'null', '"x"']) {
      writeFileSync(layout.v8TagRecord, junk)
      assert.equal(recordedV8Tag(layout), undefined, junk)
    }
    // a stale record of the right shape is used (the memo path checks it on a miss: run/memo.ts)
    const stale = `v8-node${process.versions.node}-${process.arch}-deadbeef`
    writeFileSync(layout.v8TagRecord, JSON.stringify({[fingerprint()]: stale}))
    assert.equal(recordedV8Tag(layout), stale)
    await recordV8Tag(layout, engineTag('v8'))
    assert.equal(recordedV8Tag(layout), engineTag('v8'))
  })

  it('keeps at most 16 fingerprints, this one last', async () => {
    const {layout} = await emptyStore()
    const others = Object.fromEntries(Array.from({length: 20}, (_, i) => [`other ${i}`, engineTag('v8')]))
    writeFileSync(layout.v8TagRecord, JSON.stringify(others))
    await recordV8Tag(layout, engineTag('v8'))
    const keys = Object.keys(JSON.parse(readFileSync(layout.v8TagRecord, 'utf8')))
    assert.deepEqual(keys, [...Array.from({length: 15}, (_, i) => `other ${i + 5}`), fingerprint()])
  })
})
