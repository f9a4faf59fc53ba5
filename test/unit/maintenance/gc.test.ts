import assert from 'node:assert/strict'
import {existsSync, lstatSync, utimesSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {
  breakStaleLocks,
  evictScripts,
  GC_STEPS,
  gcContext,
  readNameFiles,
  removeDaemonDebris,
  removeDanglingNames,
  removeForeignAndOrphanCompiled,
  removeOldTmp,
  removeOrphanRecords,
  removeSetAside,
  type GcContext,
  type GcOptions,
  type GcStep,
} from '../../../src/maintenance/gc.js'
import type {Store} from '../../../src/store/store.js'
import {
  addScript,
  compiledPath,
  deadPid,
  emptyStore,
  FOREIGN_TAG,
  foreignArtifact,
  objectPath,
  put,
  putLock,
  sha,
  v8Tag,
} from '../../fixtures/store.js'

// Each step of `burn gc` on a store built by the fixtures, called directly: the actions it
// records, exactly, and what is left on disk.

async function twoScripts(): Promise<{store: Store; root: string; A: string; B: string}> {
  const store = await emptyStore()
  const A = await addScript(store, 'module.exports = (x) => ({a: x})\n', ['a'])
  const B = await addScript(store, 'module.exports = (x) => ({b: x})\n', ['b'])
  return {store, root: store.root, A, B}
}

async function after(store: Store, steps: GcStep[], opts: GcOptions = {}): Promise<GcContext> {
  const ctx = gcContext(store, opts)
  for (const step of steps) await step(ctx)
  return ctx
}

/** An action as gc reports it for one removed file at `path` (relative to the store). */
function removal(root: string, kind: string, path: string, detail: string, more: object = {}) {
  const st = lstatSync(join(root, path))
  return {kind, path, ...more, detail, files: 1, bytes: st.size, diskBytes: st.blocks * 512, done: true}
}

const hashPath = (area: string, h: string) => `${area}/${h.slice(0, 2)}/${h}`

describe('gc steps', () => {
  it('run in this order', () => {
    assert.deepEqual(
      GC_STEPS.map((s) => s.name),
      [
        'removeOldTmp',
        'breakStaleLocks',
        'removeDaemonDebris',
        'removeSetAside',
        'removeForeignAndOrphanCompiled',
        'removeOrphanRecords',
        'readNameFiles',
        'evictScripts',
        'removeDanglingNames',
        'foldStats',
      ],
    )
  })

  it('find nothing to do in a sound store', async () => {
    const {store} = await twoScripts()
    const ctx = await after(store, GC_STEPS)
    assert.deepEqual(ctx.actions, [])
    assert.deepEqual(ctx.keptTags, [v8Tag()])
  })
})

describe('gc: debris', () => {
  it('removeOldTmp: only tmp files older than the threshold; a dry run removes nothing', async () => {
    const {store, root} = await twoScripts()
    put(join(root, 'tmp', 'old.tmp'), 'x'.repeat(100), new Date(Date.now() - 2 * 3600_000))
    put(join(root, 'tmp', 'young.tmp'), 'in flight')
    const expected = removal(root, 'tmp', 'tmp/old.tmp', 'older than 60 min')
    const dry = await after(store, [removeOldTmp], {dryRun: true})
    assert.deepEqual(dry.actions, [{...expected, done: false}])
    assert.equal(existsSync(join(root, 'tmp', 'old.tmp')), true)
    const ctx = await after(store, [removeOldTmp])
    assert.deepEqual(ctx.actions, [expected])
    assert.deepEqual(
      ['old.tmp', 'young.tmp'].map((f) => existsSync(join(root, 'tmp', f))),
      [false, true],
    )
  })

  it('breakStaleLocks: a dead owner’s lock goes, a live one stays', async () => {
    const {store, root} = await twoScripts()
    const pid = deadPid()
    putLock(join(root, 'pending', 'dead.lock'), pid)
    putLock(join(root, 'pending', 'live.lock'), process.pid)
    const expected = removal(root, 'stale-lock', 'pending/dead.lock', `owner process ${pid} is gone`)
    const ctx = await after(store, [breakStaleLocks])
    assert.deepEqual(ctx.actions, [expected])
    assert.deepEqual(
      ['dead.lock', 'live.lock'].map((f) => existsSync(join(root, 'pending', f))),
      [false, true],
    )
  })

  it('removeDaemonDebris: the lock and socket of a dead daemon; a live one’s stay', async () => {
    const {store, root} = await twoScripts()
    const pid = deadPid()
    putLock(join(root, 'daemon', 'dead.lock'), pid)
    put(join(root, 'daemon', 'dead.sock'), '')
    putLock(join(root, 'daemon', 'live.lock'), process.pid)
    put(join(root, 'daemon', 'live.sock'), '')
    put(join(root, 'daemon', 'lone.sock'), '')
    const expected = [
      removal(root, 'dead-daemon', 'daemon/dead.lock', `owner process ${pid} is gone`),
      removal(root, 'dead-daemon', 'daemon/dead.sock', 'socket of a daemon that is gone'),
      removal(root, 'dead-daemon', 'daemon/lone.sock', 'socket of a daemon that is gone'),
    ]
    const ctx = await after(store, [removeDaemonDebris])
    assert.deepEqual(ctx.actions, expected)
    assert.deepEqual(
      ['dead.lock', 'dead.sock', 'live.lock', 'live.sock', 'lone.sock', 'lone.lock'].map((f) => existsSync(join(root, 'daemon', f))),
      [false, false, true, true, false, false],
    )
  })

  it('removeSetAside: every file in damaged/', async () => {
    const {store, root} = await twoScripts()
    put(join(root, 'damaged', 'object.x.1.ab'), 'bad')
    const expected = removal(root, 'set-aside', 'damaged/object.x.1.ab', 'set aside after failing a check')
    assert.deepEqual((await after(store, [removeSetAside])).actions, [expected])
    assert.equal(existsSync(join(root, 'damaged', 'object.x.1.ab')), false)
  })
})

describe('gc: compiled forms and records', () => {
  it('removeForeignAndOrphanCompiled: foreign forms (and their emptied tag) and orphans; --keep-foreign keeps the foreign', async () => {
    const {store, root, A} = await twoScripts()
    const tag = v8Tag()
    const gone = sha('gone')
    await foreignArtifact(root, A)
    put(compiledPath(root, tag, gone), 'orphan')
    const foreign = removal(root, 'foreign', hashPath(`compiled/${FOREIGN_TAG}`, A), `engine tag ${FOREIGN_TAG} is not this burn's`, {
      hash: A,
    })
    const orphan = removal(root, 'orphan', hashPath(`compiled/${tag}`, gone), 'its source is not in the store', {hash: gone})

    const kept = await after(store, [removeForeignAndOrphanCompiled], {dryRun: true, keepForeign: true})
    assert.deepEqual(kept.actions, [{...orphan, done: false}])
    assert.deepEqual(kept.keptTags, [FOREIGN_TAG, tag])

    const ctx = await after(store, [removeForeignAndOrphanCompiled])
    assert.deepEqual(ctx.actions, [foreign, orphan])
    assert.equal(existsSync(join(root, 'compiled', FOREIGN_TAG)), false)
    assert.equal(existsSync(compiledPath(root, tag, A)), true)
  })

  it('removeOrphanRecords: an engines record whose source is gone', async () => {
    const {store, root} = await twoScripts()
    const gone = sha('gone')
    put(join(root, 'engines', gone.slice(0, 2), gone), '["v8"]\n')
    const expected = removal(root, 'orphan', hashPath('engines', gone), 'engines record of a source that is not in the store', {hash: gone})
    assert.deepEqual((await after(store, [removeOrphanRecords])).actions, [expected])
    assert.equal(existsSync(join(root, hashPath('engines', gone))), false)
  })
})

describe('gc: eviction and names', () => {
  it('evictScripts: --older-than evicts the script unused that long, with its name', async () => {
    const {store, root, A, B} = await twoScripts()
    // whole seconds: a file time keeps them exactly
    const old = new Date(Math.floor(Date.now() / 1000 - 24 * 3600) * 1000)
    utimesSync(objectPath(root, A), old, old)
    const ctx = await after(store, [readNameFiles, evictScripts, removeDanglingNames], {olderThanMs: 3600_000})
    assert.deepEqual(
      ctx.actions.map((a) => [a.kind, a.path, a.hash, a.names, a.detail, a.done, a.skipped]),
      [['evict-age', hashPath('objects', A), A, ['a'], `last used ${old.toISOString()}`, true, undefined]],
    )
    assert.deepEqual([objectPath(root, A), join(root, 'names', 'a'), objectPath(root, B), join(root, 'names', 'b')].map(existsSync), [
      false,
      false,
      true,
      true,
    ])
  })

  it('evictScripts: a dry run of --max-size plans least recently used first, and removes nothing', async () => {
    const {store, root, A, B} = await twoScripts()
    const older = new Date(Date.now() - 3600_000)
    utimesSync(objectPath(root, B), older, older)
    const ctx = await after(store, [readNameFiles, evictScripts], {dryRun: true, maxSize: 1})
    assert.deepEqual(
      ctx.actions.map((a) => [a.kind, a.hash, a.names, a.done]),
      [
        ['evict-size', B, ['b'], false],
        ['evict-size', A, ['a'], false],
      ],
    )
    assert.equal(existsSync(objectPath(root, A)) && existsSync(objectPath(root, B)), true)
  })

  it('removeDanglingNames: a name whose script is not in the store', async () => {
    const {store, root} = await twoScripts()
    const nothing = sha('nothing')
    put(join(root, 'names', 'ghost'), nothing + '\n')
    const detail = `points to ${nothing.slice(0, 12)}…, which is not in the store`
    const expected = removal(root, 'dangling-alias', 'names/ghost', detail, {hash: nothing})
    const ctx = await after(store, [readNameFiles, removeDanglingNames])
    assert.deepEqual(ctx.actions, [expected])
    assert.deepEqual([...ctx.names.targets.keys()], ['a', 'b', 'ghost'])
    assert.equal(existsSync(join(root, 'names', 'ghost')), false)
  })
})
