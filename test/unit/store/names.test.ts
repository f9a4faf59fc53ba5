import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {checkName, isValidName} from '../../../src/store/layout.js'
import {entryName, nameTarget, readName, readNames, removeName, writeName} from '../../../src/store/names.js'
import type {Entry} from '../../../src/store/scan.js'
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
    await assert.rejects(readName(layout, 'dir'), (e: Error & {kind: string; data: unknown}) => {
      assert.equal(e.kind, 'store')
      assert.match(e.message, /^name dir in the store is damaged \(.+\); run `burn verify --fix`$/)
      assert.deepEqual(e.data, {name: 'dir'})
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

describe('names: the store walk index and removal edges', () => {
  // Entries as scan.ts reports them: only rel, path, size and type matter to readNames.
  const entry = (dir: string, name: string, opts: {size?: number; type?: Entry['type']} = {}): Entry => {
    const path = join(dir, name)
    return {
      rel: `names/${name}`,
      path,
      size: opts.size ?? 65,
      disk: 0,
      mtimeMs: 0,
      ctimeMs: 0,
      mode: 0,
      uid: 0,
      ino: 0,
      type: opts.type ?? 'file',
    }
  }

  it('entryName is the path under names/', () => {
    assert.equal(entryName(entry('/x', 'my.name')), 'my.name')
  })

  it('readNames indexes targets and names by hash in walk order, and sorts out the rest', () => {
    const dir = tmp()
    writeFileSync(join(dir, 'one'), `${A}\n`)
    writeFileSync(join(dir, 'two'), `${B}\n`)
    writeFileSync(join(dir, 'three'), `${A}\n`)
    writeFileSync(join(dir, 'junk'), 'not a hash\n')
    writeFileSync(join(dir, 'big'), `${A}\n`)
    writeFileSync(join(dir, 'edge'), `${B}\n`)
    mkdirSync(join(dir, 'adir'))
    const index = readNames([
      entry(dir, 'one'),
      entry(dir, 'two'),
      entry(dir, 'three'),
      entry(dir, 'junk'),
      entry(dir, 'big', {size: 1025}),
      entry(dir, 'edge', {size: 1024}),
      entry(dir, 'adir', {type: 'dir'}),
      entry(dir, 'other', {type: 'other'}),
      entry(dir, 'gone'),
      entry(dir, 'adir'),
    ])
    assert.deepEqual(
      [...index.targets],
      [
        ['one', A],
        ['two', B],
        ['three', A],
        ['edge', B],
      ],
    )
    assert.deepEqual(
      [...index.namesOf],
      [
        [A, ['one', 'three']],
        [B, ['two', 'edge']],
      ],
    )
    assert.deepEqual([...index.gone], ['gone'])
    assert.deepEqual([...index.unreadable], ['adir'])
  })

  it('removeName puts back what is not a name file, and makes its tmp dir when missing', async () => {
    const {layout} = await newStore()
    mkdirSync(layout.name('dir'))
    assert.equal(await removeName(layout, 'dir', A), undefined)
    assert.equal(statSync(layout.name('dir')).isDirectory(), true)
    assert.deepEqual(readdirSync(layout.tmpDir), [])
    await writeName(layout, 'n', A)
    const disk = statSync(layout.name('n')).blocks * 512
    rmSync(layout.tmpDir, {recursive: true})
    assert.deepEqual(await removeName(layout, 'n', A), {size: 65, diskBytes: disk})
    assert.equal(existsSync(layout.name('n')), false)
    assert.deepEqual(readdirSync(layout.tmpDir), [])
  })
})
