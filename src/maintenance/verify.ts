import {existsSync, readdirSync} from 'node:fs'
import {chmod} from 'node:fs/promises'
import {resolve} from 'node:path'
import {readNames, removeName, entryName, type NameIndex} from '../store/names.js'
import {decodeArtifact} from '../engines/artifact.js'
import {decodeResult} from '../store/results/format.js'
import {writeAtomic} from '../store/atomic.js'
import {storeError} from '../util/errors.js'
import {removeScript} from './forget.js'
import {loadXxh64, sha256} from '../util/hash.js'
import {isValidName, isValidTag, Layout, STORE_FORMAT} from '../store/layout.js'
import {acquireLock, Lock} from '../store/lock.js'
import {oldTmp, pendingDebris, removeForeign, removeOrphan} from './debris.js'
import {
  DEFAULT_TMP_AGE_MS,
  ITEM_WAIT_MS,
  maintenanceLock,
  removeIfUnchanged,
  setAsideIfUnchanged,
  underKeyLock,
  underKeyLocks,
  unchanged,
  type Outcome,
} from './repair.js'
import {lockStaleMs} from '../store/lock.js'
import {readRegular, readRegularSync} from '../util/read-regular.js'
import {scanStore, type Entry, type StoreScan} from '../store/scan.js'
import {checkStatsFile} from '../store/stats/stats.js'
import {checkCacheDir, exists, readStoreJson, type Store} from '../store/store.js'
import {parseRecord, resetRecordToSandbox} from '../store/engine-trust.js'
import {currentTags} from './disk-usage.js'
import {runSteps, type StepTiming} from '../util/steps.js'
import {faultPoint} from '../util/faults.js'

/*
 * `burn verify`: every file of the store checked against what it claims to be, in the order of
 * cacache's verify (permissions, content, index, tmp), each problem reported once with what
 * --fix does about it. Sources are read once each (SHA-256 and xxh64 of the same buffer) and
 * each compiled form once (decodeArtifact checks header, checksums, tag and source hash, and
 * its recorded source length and xxh64 are compared with the source just read).
 *
 * Severity: `damage` is what makes the store wrong or unsafe (exit 8 while it remains);
 * `debris` is harmless leftover that --fix (or gc) removes: a clean store has neither.
 */

const SANDBOX_FIX = 'set aside (damaged/) and replaced by ["quickjs"]: the sandbox only, until `burn register --engine v8` trusts it again'

export type ProblemKind =
  | 'store-json'
  | 'permissions'
  | 'source-mismatch'
  | 'compiled-bad'
  | 'misplaced'
  | 'bad-alias'
  | 'dangling-alias'
  | 'stats-bad'
  | 'unreadable'
  | 'orphan-compiled'
  | 'foreign-compiled'
  | 'stale-lock'
  | 'old-tmp'
  | 'engines-bad'
  | 'orphan-engines'
  | 'result-bad'
  | 'orphan-result'

const DEBRIS = new Set<ProblemKind>(['orphan-result', 'orphan-compiled', 'foreign-compiled', 'orphan-engines', 'stale-lock', 'old-tmp'])

export interface Problem {
  kind: ProblemKind
  severity: 'damage' | 'debris'
  /** Relative to the store root. */
  path: string
  hash?: string
  detail: string
  /** What --fix does (or did) about it. */
  action: string
  /** With --fix: whether the repair happened (false: it could not, and `detail` says why). */
  fixed?: boolean
}

export interface VerifyOptions {
  fix?: boolean
  keepForeign?: boolean
  tmpAgeMs?: number
  onProgress?: (done: number, total: number) => void
}

export interface VerifyReport {
  store: string
  fix: boolean
  /** No problem of any kind left. */
  clean: boolean
  /** Damage found and not repaired: exit 8 when > 0. */
  damage: number
  problems: Problem[]
  checked: {
    sources: number
    sourceBytes: number
    compiled: number
    compiledBytes: number
    engineRecords: number
    names: number
    locks: number
    tmpFiles: number
    statsFiles: number
    /** Memoized results and idempotency key records (results/). */
    results: number
  }
  /** Files in damaged/ (set aside earlier; `burn gc` removes them). */
  setAside: number
  ms: number
  /** Each step's time, in order (shown by `burn verify --timings`). */
  steps: StepTiming[]
}

export interface Found extends Problem {
  repair?: () => Promise<Outcome | boolean>
}

const KNOWN_TOP = new Set([
  'store.json',
  'CACHEDIR.TAG',
  'v8-tag.json',
  'objects',
  'compiled',
  'engines',
  'names',
  'results',
  'pending',
  'stats',
  'tmp',
  'damaged',
  'daemon',
])

/** store.json as judged before the walk; `foreignContent` grows as the walk finds content of another format. */
export interface StoreJsonCheck {
  problem?: string
  foreignContent: string[]
}

interface SourceCheck {
  ok: boolean
  length: number
  /** Its SHA-256 (undefined: it could not be read) and, when sound, its xxh64. */
  actual?: string
  xxh?: bigint
  entry: Entry
}

/** What the steps of one verify share: the walk, what earlier steps learnt, and the problems found so far. */
export interface VerifyContext {
  layout: Layout
  store: Store
  opts: VerifyOptions
  tmpAgeMs: number
  staleMs: number
  storeJson: StoreJsonCheck
  /** Our own maintenance lock (--fix), which is no stale lock. */
  lock?: Lock
  scan: StoreScan
  current: Set<string>
  xxh: (data: Uint8Array) => bigint
  uid: number | undefined
  checked: VerifyReport['checked']
  found: Found[]
  /** Paths with a permissions problem: that one report covers their being unreadable. */
  badMode: Set<string>
  sources: Map<string, SourceCheck>
  /** The source length any valid compiled form recorded, by hash: tells a truncated source. */
  recorded: Map<string, number>
  names: NameIndex
  progress: {done: number; total: number; lastYield: number}
}

export type VerifyStep = (ctx: VerifyContext) => Promise<void>

/**
 * In this order: what later steps rely on first (permissions, then the sources every compiled
 * form, record and name is judged against), store.json last.
 */
export const VERIFY_STEPS: VerifyStep[] = [
  checkPermissions,
  checkSources,
  checkCompiled,
  checkEngineRecords,
  checkResults,
  readNameFiles,
  reportDamagedSources,
  checkMisplaced,
  checkNames,
  checkLocks,
  checkTmp,
  checkStats,
  judgeStoreJson,
]

export async function verifyStore(root: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const t0 = Date.now()
  const layout = new Layout(resolve(root))
  const storeJson = await checkStoreJson(layout)
  const lock = opts.fix ? await maintenanceLock(layout) : undefined
  try {
    const ctx = await verifyContext(layout, opts, storeJson, lock)
    const steps = await runSteps(VERIFY_STEPS, ctx)
    opts.onProgress?.(ctx.progress.total, ctx.progress.total)
    if (opts.fix) steps.push(...(await runSteps([repairFound], ctx)))
    return verifyReport(ctx, t0, steps)
  } finally {
    await lock?.release()
  }
}

/** The walk of the store, and an empty record of what was checked and found. */
export async function verifyContext(
  layout: Layout,
  opts: VerifyOptions = {},
  storeJson: StoreJsonCheck = {foreignContent: []},
  lock?: Lock,
): Promise<VerifyContext> {
  const scan = scanStore(layout)
  const current = new Set(currentTags())
  const xxh = await loadXxh64()
  const checked = {
    sources: 0,
    sourceBytes: 0,
    compiled: 0,
    compiledBytes: 0,
    engineRecords: 0,
    names: 0,
    locks: 0,
    tmpFiles: 0,
    statsFiles: 0,
    results: 0,
  }
  const total = scan.objects.size + [...scan.compiled.values()].reduce((a, m) => a + m.size, 0)
  return {
    layout,
    store: {layout, root: layout.root},
    opts,
    tmpAgeMs: opts.tmpAgeMs ?? DEFAULT_TMP_AGE_MS,
    staleMs: lockStaleMs(),
    storeJson,
    lock,
    scan,
    current,
    xxh,
    uid: process.getuid?.(),
    checked,
    found: [],
    badMode: new Set(),
    sources: new Map(),
    recorded: new Map(),
    names: {targets: new Map(), namesOf: new Map(), unreadable: new Set(), gone: new Set()},
    progress: {done: 0, total, lastYield: Date.now()},
  }
}

function add(ctx: VerifyContext, p: Omit<Found, 'severity'>): void {
  ctx.found.push({...p, severity: DEBRIS.has(p.kind) ? 'debris' : 'damage'})
}

/** One more file read; every 50 ms, progress shown and the event loop let run (a spinner turns). */
async function tick(ctx: VerifyContext): Promise<void> {
  const p = ctx.progress
  p.done++
  if (Date.now() - p.lastYield > 50) {
    ctx.opts.onProgress?.(p.done, p.total)
    await new Promise((r) => setImmediate(r))
    p.lastYield = Date.now()
  }
}

const byKey = <T>(m: Map<string, T>): Array<[string, T]> => [...m].sort(([a], [b]) => (a < b ? -1 : 1))

// 1. Permissions: the store is private to its user (0700 directories, 0600 files). Group or
// other bits below the root, a group/other-writable root, or a file burn cannot read.
export async function checkPermissions(ctx: VerifyContext): Promise<void> {
  const {scan, uid} = ctx
  for (const e of [...scan.dirs, ...Object.values(scan.files).flat()]) {
    if (e.rel.startsWith('damaged/') || e.type === 'other') continue
    const isRoot = e.rel === '.'
    const extra = isRoot ? e.mode & 0o022 : e.mode & 0o077
    const missing = (e.type === 'dir' ? 0o700 : 0o400) & ~e.mode
    const foreignOwner = uid !== undefined && e.uid !== uid
    if (!extra && !missing && !foreignOwner) continue
    ctx.badMode.add(e.rel)
    const why = [
      extra ? `mode ${fmtMode(e.mode)} gives access to ${extra & 0o070 ? 'group' : 'others'}` : '',
      missing ? `mode ${fmtMode(e.mode)} denies its owner` : '',
      foreignOwner ? `owned by uid ${e.uid}, not ${uid}` : '',
    ]
    const mode = isRoot ? (e.mode & 0o777 & ~0o022) | 0o700 : e.type === 'dir' ? 0o700 : 0o600
    add(ctx, {
      kind: 'permissions',
      path: e.rel,
      detail: why.filter(Boolean).join('; '),
      action: foreignOwner ? 'none: change the owner by hand (chown)' : `chmod ${fmtMode(mode)}`,
      repair: foreignOwner ? undefined : () => chmod(e.path, mode).then(() => true),
    })
  }
}

/** A file that could not be read, unless its permissions problem already says so. */
function addUnreadable(ctx: VerifyContext, e: Entry, hash: string, error: string, action: string, repair: Found['repair']): void {
  if (!ctx.badMode.has(e.rel)) add(ctx, {kind: 'unreadable', path: e.rel, hash, detail: error, action, repair})
}

// 2. Sources: SHA-256 of every byte against the name.
export async function checkSources(ctx: VerifyContext): Promise<void> {
  for (const [hash, e] of byKey(ctx.scan.objects)) {
    await tick(ctx)
    const buf = readWhole(e)
    if ('error' in buf) {
      if (buf.gone) continue // removed meanwhile (a forget or an eviction): not there, not damaged
      addUnreadable(ctx, e, hash, buf.error, 'set aside (damaged/)', () => setAsideIfUnchanged(ctx.layout, e, 'object'))
      ctx.sources.set(hash, {ok: false, length: e.size, entry: e})
      continue
    }
    ctx.checked.sources++
    ctx.checked.sourceBytes += buf.length
    const actual = sha256(buf)
    const ok = actual === hash
    ctx.sources.set(hash, {ok, length: buf.length, actual, xxh: ok ? ctx.xxh(buf) : undefined, entry: e})
  }
}

// 3. Compiled forms, each read once and fully decoded.
export async function checkCompiled(ctx: VerifyContext): Promise<void> {
  for (const [tag, files] of byKey(ctx.scan.compiled)) {
    for (const [hash, e] of byKey(files)) {
      await tick(ctx)
      checkCompiledFile(ctx, tag, hash, e)
    }
  }
}

function checkCompiledFile(ctx: VerifyContext, tag: string, hash: string, e: Entry): void {
  const {layout} = ctx
  if (!isValidTag(tag)) {
    const detail = `engine tag directory ${JSON.stringify(tag)} is not a valid tag`
    add(ctx, {
      kind: 'misplaced',
      path: e.rel,
      detail,
      action: 'set aside (damaged/)',
      repair: () => setAsideIfUnchanged(layout, e, 'misplaced'),
    })
    return
  }
  const src = ctx.sources.get(hash)
  if (!src) {
    if (!existsSync(e.path)) return
    const repair = () => removeOrphan(layout, e, hash, [tag])
    add(ctx, {kind: 'orphan-compiled', path: e.rel, hash, detail: 'its source is not in the store', action: 'remove', repair})
    return
  }
  const buf = readWhole(e)
  if ('error' in buf) {
    if (!buf.gone) addUnreadable(ctx, e, hash, buf.error, 'set aside (damaged/)', () => setAsideIfUnchanged(layout, e, 'compiled'))
    return
  }
  ctx.checked.compiled++
  ctx.checked.compiledBytes += buf.length
  const decoded = decodeArtifact(buf, {tag, sourceHash: hash}, ctx.xxh)
  if (decoded.ok) ctx.recorded.set(hash, decoded.meta.sourceLength)
  if (!src.ok) return // the source's own problem covers its compiled forms
  let why: string | undefined
  if (!decoded.ok) why = buf.length === 0 ? 'empty file' : decoded.reason
  else if (decoded.meta.sourceLength !== src.length || decoded.meta.sourceXxh !== src.xxh)
    why = 'made from other source bytes (length or xxh64 differ)'
  if (why) {
    if (why.startsWith('unknown artifact format')) ctx.storeJson.foreignContent.push(e.rel)
    add(ctx, {
      kind: 'compiled-bad',
      path: e.rel,
      hash,
      detail: why,
      action: 'set aside (damaged/); the next run compiles again',
      repair: () =>
        underKeyLock(
          layout,
          hash,
          tag,
          () => unchanged(e),
          () => setAsideIfUnchanged(layout, e, 'compiled'),
        ),
    })
  } else if (!ctx.current.has(tag) && !ctx.opts.keepForeign) {
    add(ctx, {
      kind: 'foreign-compiled',
      path: e.rel,
      hash,
      detail: `compiled for engine tag ${tag}, not used by this burn (${[...ctx.current].join(', ')})`,
      action: 'remove (--keep-foreign keeps it)',
      repair: () => removeForeign(layout, e, hash, tag),
    })
  }
}

/** A damaged engines record, set aside and replaced by the sandbox only (engine-trust.ts resetRecordToSandbox). */
function replaceRecord(ctx: VerifyContext, e: Entry, hash: string): Promise<Outcome> {
  const {layout} = ctx
  const replace = async () => {
    const outcome = await setAsideIfUnchanged(layout, e, 'engines')
    if (outcome === 'done') await resetRecordToSandbox(layout, hash)
    return outcome
  }
  return underKeyLocks(layout, hash, [...ctx.current], () => unchanged(e), replace)
}

// 3b. Engines records (trust.ts): a JSON list of engines burn knows, beside its source.
export async function checkEngineRecords(ctx: VerifyContext): Promise<void> {
  for (const [hash, e] of byKey(ctx.scan.engines)) {
    if (!ctx.sources.has(hash)) {
      if (!existsSync(e.path)) continue
      const repair = () => removeOrphan(ctx.layout, e, hash, [...ctx.current])
      add(ctx, {
        kind: 'orphan-engines',
        path: e.rel,
        hash,
        detail: 'engines record of a source that is not in the store',
        action: 'remove',
        repair,
      })
      continue
    }
    const buf = readWhole(e)
    if ('error' in buf) {
      if (!buf.gone) addUnreadable(ctx, e, hash, buf.error, SANDBOX_FIX, () => replaceRecord(ctx, e, hash))
      continue
    }
    ctx.checked.engineRecords++
    const parsed = parseRecord(buf.toString('utf8'))
    if (typeof parsed !== 'string') continue
    add(ctx, {
      kind: 'engines-bad',
      path: e.rel,
      hash,
      detail: `not an engines record: ${parsed}`,
      action: SANDBOX_FIX,
      repair: () => replaceRecord(ctx, e, hash),
    })
  }
}

export async function readNameFiles(ctx: VerifyContext): Promise<void> {
  ctx.names = readNames(ctx.scan.names)
}

// Sources found damaged: the script leaves the store (its source set aside; its compiled
// forms and names removed), so a run of it is a clean "not found" until it is registered again.
export async function reportDamagedSources(ctx: VerifyContext): Promise<void> {
  for (const [hash, src] of ctx.sources) {
    if (src.ok || src.actual === undefined) continue // sound, or reported as unreadable
    const e = src.entry
    const names = ctx.names.namesOf.get(hash) ?? []
    const repair = async (): Promise<Outcome> => {
      const r = await removeScript(ctx.store, hash, {
        strict: true,
        waitMs: ITEM_WAIT_MS,
        setAsideSource: true,
        names,
        tags: [...ctx.scan.compiled.keys()],
        stillWanted: async () => (await unchanged(e)) && sha256(await readRegular(e.path)) !== hash,
      })
      return r.busy ? 'busy' : r.removed ? 'done' : 'changed'
    }
    add(ctx, {
      kind: 'source-mismatch',
      path: e.rel,
      hash,
      detail: mismatchDetail(src, ctx.recorded.get(hash)),
      action: `set aside (damaged/), remove its compiled forms${names.length ? ` and names (${names.join(', ')})` : ''}`,
      repair,
    })
  }
}

// 3b. Memoized results (store/results/format.ts), each read once and fully decoded against the
// script and key its path names; a key record against itself. Damage is set aside (a run then
// recomputes); the results of a script that is gone are debris.
export async function checkResults(ctx: VerifyContext): Promise<void> {
  const {scan, layout} = ctx
  const judge = (e: Entry, expect: {hash?: string; key?: string}, hash?: string) => {
    const buf = readWhole(e)
    if ('error' in buf) {
      if (!buf.gone) addUnreadable(ctx, e, hash ?? '', buf.error, 'set aside (damaged/)', () => setAsideIfUnchanged(layout, e, 'result'))
      return
    }
    ctx.checked.results++
    const d = decodeResult(buf, expect, ctx.xxh)
    if (d.ok) return
    const action = 'set aside (damaged/); a run with --memo computes it again'
    add(ctx, {kind: 'result-bad', path: e.rel, hash, detail: d.reason, action, repair: () => setAsideIfUnchanged(layout, e, 'result')})
  }
  for (const [hash, list] of byKey(scan.results)) {
    const orphan = !scan.objects.has(hash)
    for (const e of list) {
      if (!orphan) {
        judge(e, {hash, key: e.key}, hash)
        continue
      }
      const detail = 'a memoized result whose script is gone'
      add(ctx, {kind: 'orphan-result', path: e.rel, hash, detail, action: 'remove', repair: () => removeIfUnchanged(e)})
    }
  }
  for (const e of scan.keys) judge(e, {})
}

/** What is wrong with a source, by what its compiled forms recorded of it (`was`: its length then). */
function mismatchDetail(src: SourceCheck, was: number | undefined): string {
  if (src.length === 0) return 'empty file'
  if (was !== undefined && src.length < was) return `truncated: ${src.length} of ${was} bytes`
  const how = was !== undefined && src.length === was ? ' (same length: bytes changed)' : ': changed, or a file under a wrong name'
  return `content hashes to ${src.actual}${how}`
}

// 4. Files where no file belongs (a wrong shard, a name that is not a hash, a directory).
export async function checkMisplaced(ctx: VerifyContext): Promise<void> {
  for (const e of ctx.scan.misplaced) {
    const inNames = e.rel.startsWith('names/')
    add(ctx, {
      kind: inNames ? 'bad-alias' : 'misplaced',
      path: e.rel,
      detail:
        e.type === 'dir'
          ? 'a directory where a file belongs'
          : inNames
            ? 'not a plain alias file'
            : 'not at the place of its name (objects/<ab>/<sha256>, compiled/<tag>/<ab>/<sha256>, engines/<ab>/<sha256>)',
      action: 'set aside (damaged/)',
      repair: () => setAsideIfUnchanged(ctx.layout, e, inNames ? 'name' : 'misplaced'),
    })
  }
}

// 5. Aliases.
export async function checkNames(ctx: VerifyContext): Promise<void> {
  const {layout, names} = ctx
  for (const e of ctx.scan.names) {
    const name = entryName(e)
    if (names.gone.has(name)) continue
    ctx.checked.names++
    const target = names.targets.get(name)
    let bad: string | undefined
    if (!isValidName(name)) bad = 'not a valid name'
    else if (e.type !== 'file') bad = 'not a plain file'
    else if (!target && !(names.unreadable.has(name) && ctx.badMode.has(e.rel)))
      bad = names.unreadable.has(name) ? 'cannot be read' : 'does not hold a hash'
    if (bad) {
      add(ctx, {
        kind: 'bad-alias',
        path: e.rel,
        detail: bad,
        action: 'set aside (damaged/)',
        repair: () => setAsideIfUnchanged(layout, e, 'name'),
      })
    } else if (target && !ctx.sources.has(target)) {
      add(ctx, {
        kind: 'dangling-alias',
        path: e.rel,
        hash: target,
        detail: `points to ${target}, which is not in the store`,
        action: 'remove',
        repair: async () =>
          (await exists(layout.object(target))) ? 'changed' : (await removeName(layout, name, target)) ? 'done' : 'changed',
      })
    }
  }
}

// 6. Locks, tmp and stats.
export async function checkLocks(ctx: VerifyContext): Promise<void> {
  for (const e of ctx.scan.files.pending) {
    if (ctx.lock && e.path === ctx.lock.path) continue // our own maintenance lock
    ctx.checked.locks++
    const d = await pendingDebris(e, ctx.staleMs, Date.now())
    if (!d) continue
    add(ctx, {
      kind: 'stale-lock',
      path: e.rel,
      detail: d.detail,
      action: d.kind === 'lock' ? 'break it' : 'remove',
      // Gone meanwhile is as good as broken: another gc or verify got there first.
      repair: async () => (await d.remove()) || !(await exists(e.path)),
    })
  }
}

export async function checkTmp(ctx: VerifyContext): Promise<void> {
  const files = ctx.scan.files.tmp
  ctx.checked.tmpFiles += files.length
  for (const {entry: e, age} of oldTmp(files, ctx.tmpAgeMs, Date.now())) {
    const detail = `left by a write that did not finish, ${fmtAge(age)} ago`
    add(ctx, {kind: 'old-tmp', path: e.rel, detail, action: 'remove', repair: () => removeIfUnchanged(e)})
  }
}

export async function checkStats(ctx: VerifyContext): Promise<void> {
  for (const e of ctx.scan.files.stats) {
    if (!/^stats\/(d-.*|totals)\.json$/.test(e.rel)) continue
    ctx.checked.statsFiles++
    const why = await checkStatsFile(e.path)
    if (!why) continue
    const repair = async (): Promise<Outcome> => {
      const l = await acquireLock(ctx.layout.lock('stats'), {waitMs: ITEM_WAIT_MS})
      if (!(l instanceof Lock)) return 'busy'
      try {
        return await setAsideIfUnchanged(ctx.layout, e, 'stats')
      } finally {
        await l.release()
      }
    }
    add(ctx, {kind: 'stats-bad', path: e.rel, detail: why, action: 'set aside (damaged/); the counters it held are lost', repair})
  }
}

// 7. store.json, judged last: it may only be rewritten over format-1 content.
export async function judgeStoreJson(ctx: VerifyContext): Promise<void> {
  const {storeJson, scan, layout} = ctx
  if (!storeJson.problem) return
  const unknown = [...scan.files.other, ...scan.dirs.filter((d) => !d.rel.includes('/') && d.rel !== '.')]
    .map((e) => e.rel)
    .filter((r) => !KNOWN_TOP.has(r))
  const blockers = [...unknown, ...storeJson.foreignContent]
  const rewrite = () =>
    writeAtomic(layout.tmpDir, layout.storeJson, JSON.stringify({format: STORE_FORMAT}) + '\n', 'store-json').then(() => true)
  add(ctx, {
    kind: 'store-json',
    path: 'store.json',
    detail: storeJson.problem,
    action: blockers.length
      ? `none: not format-1 content (${blockers.slice(0, 3).join(', ')}); move it away or pass another --cache-dir`
      : `write {"format":${STORE_FORMAT}}`,
    repair: blockers.length ? undefined : rewrite,
  })
}

/** Repairs, in an order where each one helps the next: permissions first, debris last. */
const REPAIR_ORDER: ProblemKind[] = [
  'permissions',
  'store-json',
  'misplaced',
  'unreadable',
  'source-mismatch',
  'compiled-bad',
  'engines-bad',
  'orphan-compiled',
  'orphan-engines',
  'result-bad',
  'orphan-result',
  'foreign-compiled',
  'bad-alias',
  'dangling-alias',
  'stats-bad',
  'stale-lock',
  'old-tmp',
]

/** `--fix`, timed as the last step. */
async function repairFound(ctx: VerifyContext): Promise<void> {
  await repairAll(ctx.found)
}

export async function repairAll(found: Found[]): Promise<void> {
  found.sort((a, b) => REPAIR_ORDER.indexOf(a.kind) - REPAIR_ORDER.indexOf(b.kind))
  for (const p of found) {
    if (!p.repair) {
      p.fixed = false
      continue
    }
    const r = await p.repair().catch((error: Error) => {
      p.detail += `; repair failed: ${error.message}`
      return false
    })
    // 'changed': another process replaced or removed the file meanwhile; the problem is gone.
    p.fixed = r === true || r === 'done' || r === 'changed'
    if (p.fixed) faultPoint('repair:fixed')
    if (r === 'busy') p.detail += '; in use by another process (its registry lock is held): not repaired, run again'
  }
}

function verifyReport(ctx: VerifyContext, t0: number, steps: StepTiming[]): VerifyReport {
  let setAside = 0
  try {
    setAside = readdirSync(ctx.layout.damagedDir).length
  } catch {
    // no damaged/ (a store of an earlier burn): nothing was set aside
  }
  const problems = ctx.found.map(withoutRepair)
  const remaining = problems.filter((p) => !p.fixed)
  return {
    store: ctx.layout.root,
    fix: Boolean(ctx.opts.fix),
    clean: remaining.length === 0,
    damage: remaining.filter((p) => p.severity === 'damage').length,
    problems,
    checked: ctx.checked,
    setAside,
    ms: Date.now() - t0,
    steps,
  }
}

function withoutRepair(f: Found): Problem {
  const p = {...f}
  delete p.repair
  return p
}

/** store.json: refuses a newer format outright (nothing is touched); else the problem, if any. */
export async function checkStoreJson(layout: Layout): Promise<StoreJsonCheck> {
  // Another user's cache dir, or one others can write to, is refused as by every command: what
  // it holds cannot be trusted, so there is nothing --fix could make right.
  if (!checkCacheDir(layout.root)) throw storeError(`${layout.root} does not exist; nothing to verify`)
  const json = await readStoreJson(layout)
  if (json === undefined) {
    const entries = readdirSync(layout.root)
    if (entries.length === 0) return {foreignContent: []}
    if (!entries.includes('objects') && !entries.includes('CACHEDIR.TAG')) {
      throw storeError(`${layout.root} is not a burn store (no store.json, no objects/); check --cache-dir`)
    }
    return {problem: 'missing', foreignContent: []}
  }
  if ('error' in json) {
    const {message} = json.error
    return {problem: json.parsing ? `not valid JSON (${message})` : `cannot read it: ${message}`, foreignContent: []}
  }
  const {format} = json
  if (typeof format !== 'number' || !Number.isInteger(format) || format < 1)
    return {problem: `no valid "format" (${JSON.stringify(format)})`, foreignContent: []}
  if (format > STORE_FORMAT) {
    throw storeError(
      `the store in ${layout.root} has format ${format}, newer than this burn supports (${STORE_FORMAT}); upgrade burn to verify it`,
      {format},
    )
  }
  return {foreignContent: []}
}

/** Reads a whole file with one open/fstat/read: the bytes verify checks, read exactly once. */
function readWhole(e: Entry): Buffer | {error: string; gone: boolean} {
  try {
    return readRegularSync(e.path)
  } catch (error) {
    return {error: `cannot read it: ${(error as Error).message}`, gone: (error as NodeJS.ErrnoException).code === 'ENOENT'}
  }
}

const fmtMode = (m: number) => `0${(m & 0o777).toString(8).padStart(3, '0')}`

function fmtAge(ms: number): string {
  const h = ms / 3_600_000
  return h >= 48 ? `${Math.round(h / 24)} days` : h >= 1 ? `${Math.round(h)} h` : `${Math.round(ms / 60_000)} min`
}
