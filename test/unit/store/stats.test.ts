import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {Layout} from '../../../src/store/layout.js'
import {compactStats, readStats, recordStats} from '../../../src/store/stats/stats.js'
import {openStore} from '../../../src/store/store.js'
import {tmp} from '../../helpers.js'

const STATS_JS = fileURLToPath(new URL('../../../src/store/stats/stats.js', import.meta.url))
const LAYOUT_JS = fileURLToPath(new URL('../../../src/store/layout.js', import.meta.url))

describe('shared counters', () => {
  it('4 processes adding while 2 others compact lose nothing and count nothing twice', async () => {
    const root = tmp()
    const store = (await openStore(root, {create: true}))!
    const adder = `
      const {recordStats} = await import(${JSON.stringify(STATS_JS)})
      const {Layout} = await import(${JSON.stringify(LAYOUT_JS)})
      const l = new Layout(${JSON.stringify(root)})
      for (let i = 0; i < 300; i++) await recordStats(l, {counters: {n: 1, w: 2}, used: {abc: Date.now()}})`
    const compacter = `
      const {compactStats} = await import(${JSON.stringify(STATS_JS)})
      const {Layout} = await import(${JSON.stringify(LAYOUT_JS)})
      const l = new Layout(${JSON.stringify(root)})
      for (let i = 0; i < 40; i++) { await compactStats(l, {force: true}); await new Promise((r) => setTimeout(r, 20)) }`
    const run = (code: string) =>
      new Promise<number | null>((resolve) =>
        spawn(process.execPath, ['--input-type=module', '-e', code], {stdio: 'inherit'}).on('exit', resolve),
      )
    const codes = await Promise.all([adder, adder, adder, adder, compacter, compacter].map(run))
    assert.deepEqual(codes, [0, 0, 0, 0, 0, 0])
    const s = await readStats(store.layout)
    assert.equal(s.counters.n, 1200)
    assert.equal(s.counters.w, 2400)
    await compactStats(store.layout, {force: true})
    assert.equal((await readStats(store.layout)).counters.n, 1200)
  })

  it('zero resets counters and keeps last-use times', async () => {
    const root = tmp()
    const layout = new Layout(root)
    await openStore(root, {create: true})
    await recordStats(layout, {counters: {n: 5}, used: {h1: 123}})
    await compactStats(layout, {zero: true})
    const s = await readStats(layout)
    assert.deepEqual(s.counters, {})
    assert.deepEqual(s.used, {h1: 123})
  })
})

describe('names that are Object.prototype keys', () => {
  it('a stats file whose keys are constructor or toString counts them as counters, not as Object members; __proto__ is dropped', async () => {
    const store = (await openStore(tmp(), {create: true}))!
    for (let i = 0; i < 2; i++) {
      await recordStats(store.layout, {
        counters: JSON.parse('{"constructor": 2, "toString": 1, "__proto__": 5, "n": 1}'),
        used: JSON.parse('{"constructor": 7}'),
      })
    }
    const once = await readStats(store.layout)
    assert.deepEqual(JSON.stringify(once.counters), '{"constructor":4,"toString":2,"n":2}')
    assert.equal(once.used.constructor, 7)
    await compactStats(store.layout, {force: true})
    const folded = await readStats(store.layout)
    assert.deepEqual(JSON.stringify(folded.counters), '{"constructor":4,"toString":2,"n":2}')
  })
})
