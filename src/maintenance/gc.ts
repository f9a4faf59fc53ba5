import {existsSync} from 'node:fs'
import {readdir, rmdir} from 'node:fs/promises'
import {join} from 'node:path'
import {entryName, readNames, removeName, type NameIndex} from '../store/names.js'
import {daemonDebris, oldTmp, pendingDebris, removeForeign, removeOrphan, type Debris} from './debris.js'
import {candidates, evict, type Eviction} from './evict.js'
import {evictResults, planResultEvictions, type ResultEviction} from './evict-results.js'
import {faultPoint} from '../util/faults.js'
import {FULL_HASH, isValidTag, type Layout} from '../store/layout.js'
import {DEFAULT_TMP_AGE_MS, maintenanceLock, removeIfUnchanged, type Outcome} from './repair.js'
import {lockStaleMs} from '../store/lock.js'
import {scanStore, totalOf, type Entry, type StoreScan, type Sum} from '../store/scan.js'
import {compactStats, readStats} from '../store/stats/stats.js'
import type {Store} from '../store/store.js'
import {currentTags} from './disk-usage.js'
import {runSteps, type StepTiming} from '../util/steps.js'

/*
 * `burn gc`: debris first (old tmp files, stale locks, set-aside files, compiled forms and
 * engines records whose source is gone, compiled forms of other engine tags), then eviction by age and by size, then
 * names left pointing nowhere, then the stats folded (dropping last-use times of scripts that
 * are gone). Safe beside registers, runs and batches: every removal is re-checked at the
 * moment it happens, under the lock that guards the file (repair.ts); a tmp file younger than
 * the threshold, or a lock whose owner is alive, is never touched.
 */
export type GcKind =
  | 'tmp'
  | 'stale-lock'
  | 'dead-daemon'
  | 'set-aside'
  | 'foreign'
  | 'orphan'
  | 'evict-result-age'
  | 'evict-result-size'
  | 'evict-age'
  | 'evict-size'
  | 'dangling-alias'

export interface GcAction {
  kind: GcKind
  /** Relative to the store root (an eviction: the script's source). */
  path: string
  hash?: string
  names?: string[]
  detail: string
  files: number
  bytes: number
  diskBytes: number
  /** false in a dry run, or when skipped (then `skipped` says why). */
  done: boolean
  skipped?: string
}

export interface GcOptions {
  dryRun?: boolean
  keepForeign?: boolean
  tmpAgeMs?: number
  maxSize?: number
  olderThanMs?: number
  onProgress?: (text: string) => void
}

export interface GcReport {
  store: string
  dryRun: boolean
  actions: GcAction[]
  /** What was removed (a dry run: what would be). */
  freed: Sum
  before: Sum
  after: Sum
  maxSize: number | null
  /** --max-size given: whether the store is now within it. */
  fits: boolean | null
  skipped: number
  ms: number
  /** Each step's time, in order (shown by `burn gc --timings`). */
  steps: StepTiming[]
}

/** What the steps of one gc share: the walk they judge, and the actions they add to. */
export interface GcContext {
  store: Store
  layout: Layout
  opts: GcOptions
  dryRun: boolean
  tmpAgeMs: number
  staleMs: number
  scan: StoreScan
  before: Sum
  now: number
  current: Set<string>
  /** Valid engine tags, and those of them whose compiled forms stay (this burn's, or all with --keep-foreign). */
  validTags: string[]
  keptTags: string[]
  actions: GcAction[]
  /** Read by readNameFiles, once the debris is gone. */
  names: NameIndex
  evictions: Eviction[]
}

export type GcStep = (ctx: GcContext) => Promise<void>

/** In this order: debris first, then eviction (which frees what debris did not), then names and stats that point to what went. */
export const GC_STEPS: GcStep[] = [
  removeOldTmp,
  breakStaleLocks,
  removeDaemonDebris,
  removeSetAside,
  removeForeignAndOrphanCompiled,
  removeOrphanRecords,
  readNameFiles,
  evictScripts,
  removeDanglingNames,
  foldStats,
]

export async function gcStore(store: Store, opts: GcOptions = {}): Promise<GcReport> {
  const t0 = Date.now()
  const lock = opts.dryRun ? undefined : await maintenanceLock(store.layout)
  try {
    const ctx = gcContext(store, opts)
    const steps = await runSteps(GC_STEPS, ctx)
    return gcReport(ctx, t0, steps)
  } finally {
    await lock?.release()
  }
}

/** The walk of the store and what is judged from it alone. */
export function gcContext(store: Store, opts: GcOptions = {}): GcContext {
  const scan = scanStore(store.layout)
  const current = new Set(currentTags())
  // A tag that is not a valid one is not burn's: `verify` reports it, gc leaves it.
  const validTags = [...scan.compiled.keys()].filter(isValidTag)
  return {
    store,
    layout: store.layout,
    opts,
    dryRun: Boolean(opts.dryRun),
    tmpAgeMs: opts.tmpAgeMs ?? DEFAULT_TMP_AGE_MS,
    staleMs: lockStaleMs(),
    scan,
    before: totalOf(scan),
    now: Date.now(),
    current,
    validTags,
    keptTags: validTags.filter((tag) => current.has(tag) || opts.keepForeign),
    actions: [],
    names: {targets: new Map(), namesOf: new Map(), unreadable: new Set(), gone: new Set()},
    evictions: [],
  }
}

type ActionHead = Omit<GcAction, 'done' | 'files' | 'bytes' | 'diskBytes'>

/** Records one removal of `e` and, unless a dry run, makes it. */
async function act(ctx: GcContext, a: ActionHead, e: Entry, run: () => Promise<Outcome | boolean>): Promise<void> {
  const action: GcAction = {...a, files: 1, bytes: e.size, diskBytes: e.disk, done: false}
  ctx.actions.push(action)
  if (ctx.dryRun) return
  const r = await run().catch((error: Error) => {
    action.skipped = `failed: ${error.message}`
    return false as const
  })
  if (r === true || r === 'done') {
    action.done = true
    faultPoint(`gc:${a.kind}`)
  } else if (!action.skipped)
    action.skipped = r === 'busy' ? 'in use: its registry lock is held' : 'changed or removed by another process meanwhile'
}

const actDebris = (ctx: GcContext, kind: GcKind, d: Debris) => act(ctx, {kind, path: d.entry.rel, detail: d.detail}, d.entry, d.remove)

// 1. Old tmp files (younger ones may be publishes in flight), stale locks, set-aside files.
export async function removeOldTmp(ctx: GcContext): Promise<void> {
  ctx.opts.onProgress?.('removing debris')
  const detail = `older than ${Math.round(ctx.tmpAgeMs / 60_000)} min`
  for (const {entry} of oldTmp(ctx.scan.files.tmp, ctx.tmpAgeMs, ctx.now))
    await act(ctx, {kind: 'tmp', path: entry.rel, detail}, entry, () => removeIfUnchanged(entry))
}

export async function breakStaleLocks(ctx: GcContext): Promise<void> {
  for (const e of ctx.scan.files.pending) {
    const d = await pendingDebris(e, ctx.staleMs, ctx.now)
    if (d) await actDebris(ctx, 'stale-lock', d)
  }
}

export async function removeDaemonDebris(ctx: GcContext): Promise<void> {
  for (const d of await daemonDebris(ctx.scan.files.daemon, ctx.staleMs)) await actDebris(ctx, 'dead-daemon', d)
}

export async function removeSetAside(ctx: GcContext): Promise<void> {
  for (const e of ctx.scan.files.damaged)
    await act(ctx, {kind: 'set-aside', path: e.rel, detail: 'set aside after failing a check'}, e, () => removeIfUnchanged(e))
}

// 2. Compiled forms of other engine tags, and compiled forms whose source is gone.
export async function removeForeignAndOrphanCompiled(ctx: GcContext): Promise<void> {
  const {layout, scan} = ctx
  for (const tag of ctx.validTags) {
    const foreign = !ctx.keptTags.includes(tag)
    for (const [hash, e] of scan.compiled.get(tag) ?? []) {
      if (foreign) {
        const detail = `engine tag ${tag} is not this burn's`
        await act(ctx, {kind: 'foreign', path: e.rel, hash, detail}, e, () => removeForeign(layout, e, hash, tag))
      } else if (!scan.objects.has(hash)) {
        const detail = 'its source is not in the store'
        await act(ctx, {kind: 'orphan', path: e.rel, hash, detail}, e, () => removeOrphan(layout, e, hash, [tag]))
      }
    }
    if (foreign && !ctx.dryRun) await removeEmptyDirs(layout.compiledTagDir(tag))
  }
}

// Engines records whose source is gone (a register or forget that died midway, trust.ts).
export async function removeOrphanRecords(ctx: GcContext): Promise<void> {
  const detail = 'engines record of a source that is not in the store'
  for (const [hash, e] of ctx.scan.engines) {
    if (ctx.scan.objects.has(hash)) continue
    await act(ctx, {kind: 'orphan', path: e.rel, hash, detail}, e, () => removeOrphan(ctx.layout, e, hash, [...ctx.current]))
  }
  // Memoized results of a script that is gone (a forget that crashed midway): nothing finds them.
  // (a source registered since the walk keeps its results)
  const resultDetail = 'memoized result of a source that is not in the store'
  for (const [hash, list] of ctx.scan.results) {
    if (ctx.scan.objects.has(hash)) continue
    for (const e of list) {
      const remove = async () => (existsSync(ctx.layout.object(hash)) ? ('changed' as const) : removeIfUnchanged(e))
      await act(ctx, {kind: 'orphan', path: e.rel, hash, detail: resultDetail}, e, remove)
    }
  }
}

export async function readNameFiles(ctx: GcContext): Promise<void> {
  ctx.names = readNames(ctx.scan.names)
}

// 3. Eviction, by age and then by size, in least-recently-used order.
export async function evictScripts(ctx: GcContext): Promise<void> {
  const {opts, layout, dryRun} = ctx
  if (opts.maxSize === undefined && opts.olderThanMs === undefined) return
  const freedDisk = ctx.actions.reduce((a, x) => a + (x.done || dryRun ? x.diskBytes : 0), 0)
  opts.onProgress?.('choosing scripts to evict')
  if (!dryRun) await compactStats(layout, {force: true}).catch(() => false)
  const {used} = await readStats(layout)
  const planned = candidates(ctx.scan, used, ctx.names.namesOf, ctx.keptTags)
  const currentDisk = ctx.before.diskBytes - freedDisk
  const resultPlan = planResultEvictions(ctx.scan, planned, {...opts, now: ctx.now, currentDisk, dryRun})
  faultPoint('gc:planned')
  await evictResults(resultPlan, dryRun)
  for (const ev of resultPlan) ctx.actions.push(resultAction(ev))
  const r = await evict(ctx.store, planned, {
    maxSize: opts.maxSize,
    olderThanMs: opts.olderThanMs,
    now: ctx.now,
    currentDisk: currentDisk - resultPlan.reduce((a, ev) => a + (ev.done || dryRun ? ev.entry.disk : 0), 0),
    dryRun,
    tags: ctx.validTags,
    onProgress: (n) => opts.onProgress?.(`evicted ${n} script(s)`),
  })
  ctx.evictions = r.evictions
  for (const ev of ctx.evictions) {
    ctx.actions.push({
      kind: ev.reason === 'age' ? 'evict-age' : 'evict-size',
      path: `objects/${ev.hash.slice(0, 2)}/${ev.hash}`,
      hash: ev.hash,
      names: ev.names,
      detail: `last used ${new Date(ev.lastUsed).toISOString()}`,
      files: ev.files,
      bytes: ev.bytes,
      diskBytes: ev.diskBytes,
      done: ev.done,
      skipped: ev.skipped,
    })
  }
}

function resultAction(ev: ResultEviction): GcAction {
  return {
    kind: ev.reason === 'age' ? 'evict-result-age' : 'evict-result-size',
    path: ev.entry.rel,
    hash: ev.hash,
    detail: `memo result, last used ${new Date(ev.entry.mtimeMs).toISOString()}`,
    files: 1,
    bytes: ev.entry.size,
    diskBytes: ev.entry.disk,
    done: ev.done,
    skipped: ev.skipped,
  }
}

// 4. Names that point nowhere (evicted names went with their script above).
export async function removeDanglingNames(ctx: GcContext): Promise<void> {
  const {layout, scan, dryRun} = ctx
  const evicted = ctx.evictions.filter((ev) => ev.done || dryRun)
  const evictedNames = new Set(evicted.flatMap((ev) => ev.names))
  const evictedHashes = new Set(evicted.map((ev) => ev.hash))
  for (const e of scan.names) {
    const name = entryName(e)
    const target = ctx.names.targets.get(name)
    if (!target || evictedNames.has(name)) continue
    const gone = dryRun ? !scan.objects.has(target) || evictedHashes.has(target) : !existsSync(layout.object(target))
    if (!gone) continue
    const detail = `points to ${target.slice(0, 12)}…, which is not in the store`
    await act(ctx, {kind: 'dangling-alias', path: e.rel, hash: target, detail}, e, async () =>
      existsSync(layout.object(target)) ? 'changed' : (await removeName(layout, name, target)) ? 'done' : 'changed',
    )
  }
}

// 5. Fold the stats; last-use times of scripts that are gone are dropped.
export async function foldStats(ctx: GcContext): Promise<void> {
  if (ctx.dryRun) return
  const {layout} = ctx
  await compactStats(layout, {force: true, keepUsed: (h) => FULL_HASH.test(h) && existsSync(layout.object(h))}).catch(() => false)
}

function gcReport(ctx: GcContext, t0: number, steps: StepTiming[]): GcReport {
  const {actions, before, dryRun, opts} = ctx
  const counted = actions.filter((a) => a.done || (dryRun && !a.skipped))
  const total = (f: (a: GcAction) => number) => counted.reduce((n, a) => n + f(a), 0)
  const freed = {files: total((a) => a.files), bytes: total((a) => a.bytes), diskBytes: total((a) => a.diskBytes)}
  const after = dryRun
    ? {files: before.files - freed.files, bytes: before.bytes - freed.bytes, diskBytes: before.diskBytes - freed.diskBytes}
    : totalOf(scanStore(ctx.layout))
  return {
    store: ctx.layout.root,
    dryRun,
    actions,
    freed,
    before,
    after,
    maxSize: opts.maxSize ?? null,
    fits: opts.maxSize === undefined ? null : after.diskBytes <= opts.maxSize,
    skipped: actions.filter((a) => a.skipped).length,
    ms: Date.now() - t0,
    steps,
  }
}

/** Shard directories and the tag directory of a removed foreign tag, when empty. */
async function removeEmptyDirs(tagDir: string): Promise<void> {
  for (const shard of await readdir(tagDir).catch(() => [] as string[])) await rmdir(join(tagDir, shard)).catch(() => {})
  await rmdir(tagDir).catch(() => {})
}
