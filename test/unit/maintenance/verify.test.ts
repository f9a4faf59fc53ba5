import assert from 'node:assert/strict'
import {chmodSync, existsSync, lstatSync, readFileSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {currentTags, storeUsage} from '../../../src/maintenance/disk-usage.js'
import {
  checkCompiled,
  checkEngineRecords,
  checkLocks,
  checkMisplaced,
  checkNames,
  checkPermissions,
  checkSources,
  checkStats,
  checkStoreJson,
  checkTmp,
  judgeStoreJson,
  readNameFiles,
  repairAll,
  reportDamagedSources,
  VERIFY_STEPS,
  verifyContext,
  verifyStore,
  type Problem,
  type VerifyContext,
  type VerifyOptions,
  type VerifyStep,
} from '../../../src/maintenance/verify.js'
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
  putArtifact,
  putLock,
  sha,
  v8Tag,
} from '../../fixtures/store.js'

// Each step of `burn verify` on a store built by the fixtures, called directly: what it finds,
// exactly, with the steps it relies on run before it.

const SRC_A = 'module.exports = (x) => ({a: x})\n'
const SRC_B = 'module.exports = (x) => ({b: x})\n'
const SANDBOX_FIX = 'set aside (damaged/) and replaced by ["quickjs"]: the sandbox only, until `burn register --engine v8` trusts it again'

async function twoScripts(): Promise<{store: Store; root: string; A: string; B: string}> {
  const store = await emptyStore()
  const A = await addScript(store, SRC_A, ['a'])
  const B = await addScript(store, SRC_B, ['b'])
  return {store, root: store.root, A, B}
}

/** The steps' context on the store as it is now, with `steps` run. */
async function after(store: Store, steps: VerifyStep[], opts: VerifyOptions = {}): Promise<VerifyContext> {
  const ctx = await verifyContext(store.layout, opts)
  for (const step of steps) await step(ctx)
  return ctx
}

/** The problems found, as the report shows them (without their repair). */
const problems = (ctx: VerifyContext): Problem[] =>
  ctx.found.map((f) => {
    const p = {...f}
    delete p.repair
    return p
  })

const flip = (p: string, at: number) => {
  const b = readFileSync(p)
  b[at] ^= 0xff
  writeFileSync(p, b)
}

describe('verify steps', () => {
  it('run in this order', () => {
    assert.deepEqual(
      VERIFY_STEPS.map((s) => s.name),
      [
        'checkPermissions',
        'checkSources',
        'checkCompiled',
        'checkEngineRecords',
        'checkResults',
        'readNameFiles',
        'reportDamagedSources',
        'checkMisplaced',
        'checkNames',
        'checkLocks',
        'checkTmp',
        'checkStats',
        'judgeStoreJson',
      ],
    )
  })

  it('find nothing in a sound store, and count what they checked', async () => {
    const {store, root, A, B} = await twoScripts()
    const ctx = await after(store, VERIFY_STEPS)
    assert.deepEqual(problems(ctx), [])
    const tag = v8Tag()
    assert.deepEqual(ctx.checked, {
      sources: 2,
      sourceBytes: SRC_A.length + SRC_B.length,
      compiled: 2,
      compiledBytes: lstatSync(compiledPath(root, tag, A)).size + lstatSync(compiledPath(root, tag, B)).size,
      engineRecords: 2,
      names: 2,
      locks: 0,
      tmpFiles: 0,
      statsFiles: 0,
      results: 0,
    })
    assert.deepEqual(ctx.progress, {...ctx.progress, done: 4, total: 4})
  })
})

describe('verify: checkPermissions', () => {
  it('reports a group-writable directory, with the mode --fix gives it', async () => {
    const {store, root} = await twoScripts()
    chmodSync(join(root, 'names'), 0o770)
    const ctx = await after(store, [checkPermissions])
    assert.deepEqual(problems(ctx), [
      {kind: 'permissions', severity: 'damage', path: 'names', detail: 'mode 0770 gives access to group', action: 'chmod 0700'},
    ])
    assert.deepEqual([...ctx.badMode], ['names'])
    await repairAll(ctx.found)
    assert.equal(ctx.found[0].fixed, true)
    assert.equal(lstatSync(join(root, 'names')).mode & 0o777, 0o700)
  })
})

describe('verify: checkSources and reportDamagedSources', () => {
  it('a flipped byte: same length, other bytes; the script and its name leave the store on --fix', async () => {
    const {store, root, A} = await twoScripts()
    flip(objectPath(root, A), SRC_A.length - 3)
    const ctx = await after(store, [checkSources, checkCompiled, readNameFiles, reportDamagedSources])
    assert.equal(ctx.sources.get(A)?.ok, false)
    assert.deepEqual(problems(ctx), [
      {
        kind: 'source-mismatch',
        severity: 'damage',
        path: `objects/${A.slice(0, 2)}/${A}`,
        hash: A,
        detail: `content hashes to ${sha(readFileSync(objectPath(root, A)))} (same length: bytes changed)`,
        action: 'set aside (damaged/), remove its compiled forms and names (a)',
      },
    ])
    await repairAll(ctx.found)
    assert.equal(ctx.found[0].fixed, true)
    assert.deepEqual([objectPath(root, A), compiledPath(root, v8Tag(), A), join(root, 'names', 'a')].map(existsSync), [false, false, false])
  })

  it('a truncated source is told by the length its compiled form recorded', async () => {
    const {store, root, A} = await twoScripts()
    truncateSync(objectPath(root, A), 10)
    const ctx = await after(store, [checkSources, checkCompiled, readNameFiles, reportDamagedSources])
    assert.deepEqual(
      problems(ctx).map((p) => [p.kind, p.detail]),
      [['source-mismatch', `truncated: 10 of ${SRC_A.length} bytes`]],
    )
  })

  it('a source under a wrong name', async () => {
    const {store, root} = await twoScripts()
    const wrong = sha('not the content')
    put(objectPath(root, wrong), SRC_A)
    const ctx = await after(store, [checkSources, checkCompiled, readNameFiles, reportDamagedSources])
    assert.deepEqual(
      problems(ctx).map((p) => [p.kind, p.path, p.detail, p.action]),
      [
        [
          'source-mismatch',
          `objects/${wrong.slice(0, 2)}/${wrong}`,
          `content hashes to ${sha(SRC_A)}: changed, or a file under a wrong name`,
          'set aside (damaged/), remove its compiled forms',
        ],
      ],
    )
  })
})

describe('verify: checkCompiled', () => {
  it('an empty compiled form is damage; the source stays sound', async () => {
    const {store, root, A} = await twoScripts()
    const tag = v8Tag()
    truncateSync(compiledPath(root, tag, A), 0)
    const ctx = await after(store, [checkSources, checkCompiled])
    assert.deepEqual(problems(ctx), [
      {
        kind: 'compiled-bad',
        severity: 'damage',
        path: `compiled/${tag}/${A.slice(0, 2)}/${A}`,
        hash: A,
        detail: 'empty file',
        action: 'set aside (damaged/); the next run compiles again',
      },
    ])
    assert.equal(ctx.checked.compiled, 2)
  })

  it('a compiled form made from other source bytes', async () => {
    const {store, root, A} = await twoScripts()
    const tag = v8Tag()
    // B's compiled form, re-made over A's hash: valid in itself, of another source
    put(objectPath(root, A), SRC_B)
    await putArtifact(root, tag, A)
    put(objectPath(root, A), SRC_A)
    const ctx = await after(store, [checkSources, checkCompiled])
    assert.deepEqual(
      problems(ctx).map((p) => [p.kind, p.hash, p.detail]),
      [['compiled-bad', A, 'made from other source bytes (length or xxh64 differ)']],
    )
  })

  it('a foreign compiled form is debris, unless --keep-foreign', async () => {
    const {store, root, A} = await twoScripts()
    await foreignArtifact(root, A)
    const ctx = await after(store, [checkSources, checkCompiled])
    assert.deepEqual(problems(ctx), [
      {
        kind: 'foreign-compiled',
        severity: 'debris',
        path: `compiled/${FOREIGN_TAG}/${A.slice(0, 2)}/${A}`,
        hash: A,
        detail: `compiled for engine tag ${FOREIGN_TAG}, not used by this burn (${currentTags().join(', ')})`,
        action: 'remove (--keep-foreign keeps it)',
      },
    ])
    assert.deepEqual(problems(await after(store, [checkSources, checkCompiled], {keepForeign: true})), [])
  })

  it('an orphan compiled form, and one under a tag that is no tag', async () => {
    const {store, root, A} = await twoScripts()
    const tag = v8Tag()
    const gone = sha('gone')
    put(compiledPath(root, tag, gone), 'whatever')
    put(compiledPath(root, '-bad', A), 'whatever')
    const ctx = await after(store, [checkSources, checkCompiled])
    assert.deepEqual(
      problems(ctx).map((p) => [p.kind, p.severity, p.path, p.detail, p.action]),
      [
        [
          'misplaced',
          'damage',
          `compiled/-bad/${A.slice(0, 2)}/${A}`,
          'engine tag directory "-bad" is not a valid tag',
          'set aside (damaged/)',
        ],
        ['orphan-compiled', 'debris', `compiled/${tag}/${gone.slice(0, 2)}/${gone}`, 'its source is not in the store', 'remove'],
      ],
    )
    await repairAll(ctx.found)
    assert.deepEqual(
      ctx.found.map((p) => p.fixed),
      [true, true],
    )
    assert.equal(existsSync(compiledPath(root, tag, gone)), false)
  })
})

describe('verify: checkEngineRecords', () => {
  it('a damaged record is replaced by the sandbox only; an orphan one is debris', async () => {
    const {store, root, A} = await twoScripts()
    put(join(root, 'engines', A.slice(0, 2), A), '["v9"]\n')
    const gone = sha('gone')
    put(join(root, 'engines', gone.slice(0, 2), gone), '["v8"]\n')
    const ctx = await after(store, [checkSources, checkEngineRecords])
    assert.deepEqual(
      problems(ctx).map((p) => [p.kind, p.severity, p.hash, p.detail, p.action]),
      // in the order of their hashes
      [
        ['engines-bad', 'damage', A, 'not an engines record: names no engine burn knows: "v9"', SANDBOX_FIX],
        ['orphan-engines', 'debris', gone, 'engines record of a source that is not in the store', 'remove'],
      ].sort((x, y) => (x[2] < y[2] ? -1 : 1)),
    )
    assert.equal(ctx.checked.engineRecords, 2)
    await repairAll(ctx.found)
    assert.equal(readFileSync(join(root, 'engines', A.slice(0, 2), A), 'utf8'), '["quickjs"]\n')
    assert.equal(existsSync(join(root, 'engines', gone.slice(0, 2), gone)), false)
  })
})

describe('verify: checkMisplaced and checkNames', () => {
  it('a source in the wrong shard, and a directory among the names', async () => {
    const {store, root, A} = await twoScripts()
    const shard = A.startsWith('00') ? '01' : '00'
    put(join(root, 'objects', shard, A), SRC_A)
    put(join(root, 'names', 'dir', 'x'), 'x')
    const ctx = await after(store, [checkMisplaced])
    assert.deepEqual(
      problems(ctx).map((p) => [p.kind, p.path, p.detail]),
      [
        ['bad-alias', 'names/dir', 'a directory where a file belongs'],
        [
          'misplaced',
          `objects/${shard}/${A}`,
          'not at the place of its name (objects/<ab>/<sha256>, compiled/<tag>/<ab>/<sha256>, engines/<ab>/<sha256>)',
        ],
      ],
    )
  })

  it('names that hold no hash, point nowhere, or are no valid name', async () => {
    const {store, root, A} = await twoScripts()
    const nothing = sha('nothing')
    put(join(root, 'names', 'junk'), 'hello\n')
    put(join(root, 'names', 'ghost'), nothing + '\n')
    put(join(root, 'names', '-dash'), A + '\n')
    // a hash, but in a file far longer than a name file: not read
    put(join(root, 'names', 'long'), A + ' '.repeat(1024) + '\n')
    const ctx = await after(store, [checkSources, readNameFiles, checkNames])
    assert.deepEqual(
      problems(ctx).map((p) => [p.kind, p.path, p.hash, p.detail, p.action]),
      [
        ['bad-alias', 'names/-dash', undefined, 'not a valid name', 'set aside (damaged/)'],
        ['dangling-alias', 'names/ghost', nothing, `points to ${nothing}, which is not in the store`, 'remove'],
        ['bad-alias', 'names/junk', undefined, 'does not hold a hash', 'set aside (damaged/)'],
        ['bad-alias', 'names/long', undefined, 'does not hold a hash', 'set aside (damaged/)'],
      ],
    )
    assert.equal(ctx.checked.names, 6)
    assert.deepEqual(ctx.names.namesOf.get(A), ['-dash', 'a'])
  })
})

describe('verify: checkLocks, checkTmp and checkStats', () => {
  it('a dead owner’s lock and an old leftover of a lock break are debris; a live lock is not', async () => {
    const {store, root} = await twoScripts()
    const pid = deadPid()
    putLock(join(root, 'pending', 'dead.lock'), pid)
    putLock(join(root, 'pending', 'live.lock'), process.pid)
    put(join(root, 'pending', 'x.lock.broken.ab12'), '{}', new Date(Date.now() - 60_000))
    const ctx = await after(store, [checkLocks])
    assert.deepEqual(problems(ctx), [
      {kind: 'stale-lock', severity: 'debris', path: 'pending/dead.lock', detail: `owner process ${pid} is gone`, action: 'break it'},
      {kind: 'stale-lock', severity: 'debris', path: 'pending/x.lock.broken.ab12', detail: 'leftover of a broken lock', action: 'remove'},
    ])
    assert.equal(ctx.checked.locks, 3)
    await repairAll(ctx.found)
    assert.deepEqual(
      ['dead.lock', 'live.lock', 'x.lock.broken.ab12'].map((f) => existsSync(join(root, 'pending', f))),
      [false, true, false],
    )
  })

  it('a tmp file older than the threshold is debris, a younger one may be a write in flight', async () => {
    const {store, root} = await twoScripts()
    put(join(root, 'tmp', 'old.tmp'), 'partial', new Date(Date.now() - 2 * 3600_000))
    put(join(root, 'tmp', 'young.tmp'), 'partial')
    const ctx = await after(store, [checkTmp])
    assert.deepEqual(problems(ctx), [
      {kind: 'old-tmp', severity: 'debris', path: 'tmp/old.tmp', detail: 'left by a write that did not finish, 2 h ago', action: 'remove'},
    ])
    assert.equal(ctx.checked.tmpFiles, 2)
  })

  it('a stats file whose counters are not numbers', async () => {
    const {store, root} = await twoScripts()
    put(join(root, 'stats', 'd-1-2-3.json'), '{"counters":{"runs.ok":"many"}}')
    put(join(root, 'stats', 'notes.txt'), 'not a stats file: not checked')
    const ctx = await after(store, [checkStats])
    assert.deepEqual(problems(ctx), [
      {
        kind: 'stats-bad',
        severity: 'damage',
        path: 'stats/d-1-2-3.json',
        detail: 'counters or last-use times are not numbers',
        action: 'set aside (damaged/); the counters it held are lost',
      },
    ])
    assert.equal(ctx.checked.statsFiles, 1)
  })
})

describe('verify: store.json', () => {
  it('checkStoreJson: each way store.json can be wrong', async () => {
    const {store, root} = await twoScripts()
    const problem = async (text: string) => {
      put(join(root, 'store.json'), text)
      return (await checkStoreJson(store.layout)).problem
    }
    let parseError = ''
    try {
      JSON.parse('{"form')
    } catch (error) {
      parseError = (error as Error).message
    }
    assert.equal(await problem('{"format":1}\n'), undefined)
    assert.equal(await problem('{"form'), `not valid JSON (${parseError})`)
    assert.equal(await problem('{"format":0}'), 'no valid "format" (0)')
    assert.equal(await problem('{"format":"1"}'), 'no valid "format" ("1")')
    await assert.rejects(problem('{"format":2}'), /has format 2, newer than this burn supports \(1\); upgrade burn to verify it$/)
  })

  it('judgeStoreJson: rewritten over format-1 content only', async () => {
    const {store, root} = await twoScripts()
    const ctx = await after(store, [])
    ctx.storeJson = {problem: 'missing', foreignContent: []}
    await judgeStoreJson(ctx)
    assert.deepEqual(problems(ctx), [
      {kind: 'store-json', severity: 'damage', path: 'store.json', detail: 'missing', action: 'write {"format":1}'},
    ])
    put(join(root, 'elsewhere.db'), 'not burn’s')
    const blocked = await after(store, [])
    blocked.storeJson = {problem: 'missing', foreignContent: []}
    await judgeStoreJson(blocked)
    assert.equal(blocked.found[0].action, 'none: not format-1 content (elsewhere.db); move it away or pass another --cache-dir')
    assert.equal(blocked.found[0].repair, undefined)
  })

  // Entries are named by whoever wrote into the store: a name that is also an Object member
  // (constructor, __proto__, toString) is an unknown entry, a tag or a name like any other.
  it('the walk, verify and the usage report take entries named constructor, __proto__ or toString as any other', async () => {
    const {store, root} = await twoScripts()
    const odd = ['constructor', '__proto__', 'toString']
    for (const n of odd) {
      put(join(root, n, 'x'), 'junk')
      put(join(root, 'compiled', n, 'y'), 'junk')
      put(join(root, 'names', n), 'junk\n')
    }
    put(join(root, 'hasOwnProperty'), 'junk')
    const report = await verifyStore(root)
    const at = (kind: string) =>
      report.problems
        .filter((p) => p.kind === kind)
        .map((p) => p.path)
        .sort()
    assert.deepEqual(at('misplaced'), odd.map((n) => `compiled/${n}/y`).sort())
    assert.deepEqual(at('bad-alias'), odd.map((n) => `names/${n}`).sort())
    const usage = await storeUsage(store)
    assert.deepEqual(Object.keys(usage.compiled).sort(), [...odd, v8Tag()].sort())
    // (its file is misplaced: a tag directory holds <ab>/<hash> files)
    assert.deepEqual(usage.compiled.__proto__, {files: 0, bytes: 0, diskBytes: 0, foreign: true})
    // (their 4 files, with store.json and CACHEDIR.TAG)
    assert.equal(usage.areas.other.files, 6)
  })
})
