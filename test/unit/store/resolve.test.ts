import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {describe, it} from 'node:test'
import {writeName} from '../../../src/store/names.js'
import {resolveScript} from '../../../src/store/resolve.js'
import {openStore, type Store} from '../../../src/store/store.js'
import {tmp} from '../../helpers.js'

const H1 = 'abcdef01' + '1'.repeat(56)
const H2 = 'abcdef02' + '2'.repeat(56)
const H3 = 'abcdef01' + '3'.repeat(56)
const GONE = 'f'.repeat(64)

/** A store holding sources H1, H2, H3 (a source is all resolve looks at) and names. */
async function fixture(): Promise<Store> {
  const store = (await openStore(tmp(), {create: true}))!
  for (const h of [H1, H2, H3]) {
    mkdirSync(dirname(store.layout.object(h)), {recursive: true})
    writeFileSync(store.layout.object(h), `// ${h}\n`)
  }
  await writeName(store.layout, 'one', H1)
  await writeName(store.layout, 'gone', GONE)
  return store
}

const notFound = (ref: string) => ({
  kind: 'notFound',
  message: `no script matches ${JSON.stringify(ref)}; \`burn list\` shows what is registered, \`burn register <file>\` adds one`,
  data: {ref},
})

describe('resolveScript', () => {
  it('a full hash: itself when stored, else not found', async () => {
    const store = await fixture()
    assert.equal(await resolveScript(store, H2), H2)
    await assert.rejects(resolveScript(store, GONE), notFound(GONE))
  })

  it('a unique prefix of at least 6 hex digits', async () => {
    const store = await fixture()
    assert.equal(await resolveScript(store, 'abcdef02'), H2)
    assert.equal(await resolveScript(store, 'abcdef011'), H1)
    await assert.rejects(resolveScript(store, 'abcdef09'), notFound('abcdef09'))
  })

  it('an ambiguous prefix lists its candidates', async () => {
    const store = await fixture()
    await assert.rejects(resolveScript(store, 'abcdef0'), {
      kind: 'notFound',
      message: `ambiguous prefix abcdef0: it matches 3 scripts:\n  ${H1}\n  ${H3}\n  ${H2}\nuse more digits`,
      data: {candidates: [H1, H3, H2]},
    })
  })

  it('a name: its target; a name to a missing script says so', async () => {
    const store = await fixture()
    assert.equal(await resolveScript(store, 'one'), H1)
    await assert.rejects(resolveScript(store, 'gone'), {
      kind: 'notFound',
      message: `name gone points to ${GONE}, which is not in the store; register the script again or \`burn forget gone\``,
      data: {name: 'gone', hash: GONE},
    })
    await assert.rejects(resolveScript(store, 'nobody'), notFound('nobody'))
  })

  it('a name made of hex digits is read as a name first, then as a prefix', async () => {
    const store = await fixture()
    await writeName(store.layout, 'abcdef', H2)
    assert.equal(await resolveScript(store, 'abcdef'), H2)
    // no name abcdef02: the prefix
    assert.equal(await resolveScript(store, 'abcdef02'), H2)
    await writeName(store.layout, 'abcdef02', H1)
    assert.equal(await resolveScript(store, 'abcdef02'), H1)
  })

  it('anything else is refused before it touches the filesystem (exit 2); no store: not found', async () => {
    for (const ref of ['../x', 'a/b', '', '.hidden']) {
      await assert.rejects(resolveScript(undefined, ref), {
        kind: 'usage',
        message:
          `invalid script reference ${JSON.stringify(ref)}: expected a full hash, a unique prefix of at least 6 hex digits, ` +
          'or a name (to add a file, use `burn register <file>`)',
      })
    }
    await assert.rejects(resolveScript(undefined, 'one'), notFound('one'))
  })
})
