import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {describe, it} from 'node:test'
import {checkName, isValidName} from '../../../src/store/layout.js'
import {nameTarget, readName, removeName, writeName} from '../../../src/store/names.js'
import {openStore} from '../../../src/store/store.js'
import {tmp} from '../../helpers.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const newStore = async () => (await openStore(tmp(), {create: true}))!

describe('names', () => {
  it('isValidName agrees with checkName, which throws the usage error', () => {
    for (const ok of ['a', 'Z9', 'my-script_1.2', 'x'.repeat(128)]) {
      assert.equal(isValidName(ok), true, ok)
      assert.equal(checkName(ok), ok)
    }
    for (const bad of ['', '-a', '.a', 'a/b', 'a\\b', 'a..b', 'x'.repeat(129), 'é', 'a b']) {
      assert.equal(isValidName(bad), false, bad)
      assert.throws(() => checkName(bad), {
        name: 'BurnError',
        kind: 'usage',
        message:
          `invalid name ${JSON.stringify(bad)}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, ` +
          "with no '..' and no path separators",
      })
    }
  })

  it('writeName writes the hash and a newline; readName reads it back; a missing name is undefined', async () => {
    const store = await newStore()
    assert.equal(await readName(store.layout, 'n'), undefined)
    await writeName(store.layout, 'n', A)
    assert.equal(readFileSync(store.layout.name('n'), 'utf8'), `${A}\n`)
    assert.equal(await readName(store.layout, 'n'), A)
    await writeName(store.layout, 'n', B)
    assert.equal(await readName(store.layout, 'n'), B)
    assert.deepEqual(readdirSync(store.layout.tmpDir), [])
  })

  it('readName refuses a damaged name with the store error (exit 8)', async () => {
    const {layout} = await newStore()
    writeFileSync(layout.name('junk'), 'not a hash\n')
    await assert.rejects(readName(layout, 'junk'), {
      kind: 'store',
      message: 'name junk in the store is damaged; run `burn verify --fix`',
      data: {name: 'junk'},
    })
    mkdirSync(layout.name('dir'))
    await assert.rejects(readName(layout, 'dir'), (e: Error & {kind: string}) => {
      assert.equal(e.kind, 'store')
      assert.match(e.message, /^name dir in the store is damaged \(.+\); run `burn verify --fix`$/)
      return true
    })
    symlinkSync(layout.name('junk'), layout.name('link'))
    await assert.rejects(readName(layout, 'link'), {kind: 'store'})
  })

  it('nameTarget reads a name file text: a full hash, whitespace around it allowed', () => {
    assert.equal(nameTarget(`${A}\n`), A)
    assert.equal(nameTarget(`  ${A}  `), A)
    assert.equal(nameTarget(A.slice(1)), undefined)
    assert.equal(nameTarget(A.toUpperCase()), undefined)
    assert.equal(nameTarget(''), undefined)
  })

  it('removeName removes a name only while it points to the hash judged', async () => {
    const {layout} = await newStore()
    await writeName(layout, 'n', B)
    assert.equal(await removeName(layout, 'n', A), undefined)
    assert.equal(await readName(layout, 'n'), B)
    const removed = await removeName(layout, 'n', B)
    assert.equal(removed?.size, 65)
    assert.equal(await readName(layout, 'n'), undefined)
    assert.equal(await removeName(layout, 'n', B), undefined)
    assert.deepEqual(readdirSync(layout.tmpDir), [])
  })
})
