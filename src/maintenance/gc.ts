import {existsSync} from 'node:fs'
import {readdir, rmdir} from 'node:fs/promises'
import {join} from 'node:path'
import {removeAlias} from '../store/names.js'
import {daemonDebris} from './daemons.js'
import {candidates, evict, type Eviction} from './evict.js'
import {faultPoint} from '../util/faults.js'
import {checkTag, FULL_HASH} from '../store/layout.js'
import {breakStaleLock, staleReason} from '../store/lock.js'
import {
  DEFAULT_TMP_AGE_MS,
  lockStaleMs,
  maintenanceLock,
  removeIfUnchanged,
  underKeyLock,
  underKeyLocks,
  unchanged,
  type Outcome,
} from './repair.js'
import {readRegularSync} from '../util/read-regular.js'
import {scanStore, totalOf, type Entry, type Sum} from '../store/scan.js'
import {compactStats, readStats} from '../store/stats.js'
import type {Store} from '../store/store.js'
import {currentTags} from './usage.js'

/*
 * `burn gc`: debris first (old tmp files, stale locks, set-aside files, compiled forms and
 * engines records whose source is gone, compiled forms of other engine tags), then eviction by age and by size, then
 * names left pointing nowhere, then the stats folded (dropping last-use times of scripts that
 * are gone). Safe beside registers, runs and batches: every removal is re-checked at the
 * moment it happens, under the lock that guards the file (repair.ts); a tmp file younger than
 * the threshold, or a lock whose owner is alive, is never touched.
 */
export type GcKind =
  'tmp' | 'stale-lock' | 'dead-daemon' | 'set-aside' | 'foreign' | 'orphan' | 'evict-age' | 'evict-size' | 'dangling-alias'

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
}

export async function gcStore(store: Store, opts: GcOptions = {}): Promise<GcReport> {
  const t0 = Date.now()
  const {layout} = store
  const dryRun = Boolean(opts.dryRun)
  const tmpAgeMs = opts.tmpAgeMs ?? DEFAULT_TMP_AGE_MS
  const lock = dryRun ? undefined : await maintenanceLock(layout)
  try {
    const scan = scanStore(layout)
    const before = totalOf(scan)
    const now = Date.now()
    const current = new Set(currentTags())
    const actions: GcAction[] = []
    const progress = (what: string) => opts.onProgress?.(what)

    const act = async (a: Omit<GcAction, 'done' | 'files' | 'bytes' | 'diskBytes'>, e: Entry, run: () => Promise<Outcome | boolean>) => {
      const action: GcAction = {...a, files: 1, bytes: e.size, diskBytes: e.disk, done: false}
      actions.push(action)
      if (dryRun) return
      const r = await run().catch((error: Error) => {
        action.skipped = `failed: ${error.message}`
        return false as const
      })
      if (r === true || r === 'done') action.done = true
      else if (!action.skipped)
        action.skipped = r === 'busy' ? 'in use: its registry lock is held' : 'changed or removed by another process meanwhile'
    }

    // 1. Old tmp files (younger ones may be publishes in flight), stale locks, set-aside files.
    progress('removing debris')
    for (const e of scan.files.tmp) {
      if (now - e.mtimeMs > tmpAgeMs)
        await act({kind: 'tmp', path: e.rel, detail: `older than ${Math.round(tmpAgeMs / 60_000)} min`}, e, () => removeIfUnchanged(e))
    }
    const staleMs = lockStaleMs()
    for (const e of scan.files.pending) {
      if (e.rel.endsWith('.lock')) {
        const why = await staleReason(e.path, staleMs)
        if (why) await act({kind: 'stale-lock', path: e.rel, detail: why}, e, async () => Boolean(await breakStaleLock(e.path, staleMs)))
      } else if (now - e.mtimeMs > staleMs) {
        await act({kind: 'stale-lock', path: e.rel, detail: 'leftover of a broken lock'}, e, () => removeIfUnchanged(e))
      }
    }
    for (const d of await daemonDebris(scan.files.daemon, staleMs))
      await act({kind: 'dead-daemon', path: d.entry.rel, detail: d.detail}, d.entry, d.remove)
    for (const e of scan.files.damaged)
      await act({kind: 'set-aside', path: e.rel, detail: 'set aside after failing a check'}, e, () => removeIfUnchanged(e))

    // 2. Compiled forms of other engine tags, and compiled forms whose source is gone.
    const keptTags: string[] = []
    const validTags: string[] = []
    for (const [tag, files] of scan.compiled) {
      let valid = true
      try {
        checkTag(tag)
      } catch {
        valid = false // not burn's: `verify` reports it
      }
      const foreign = valid && !current.has(tag) && !opts.keepForeign
      if (valid && !foreign) keptTags.push(tag)
      if (valid) validTags.push(tag)
      if (!valid) continue
      for (const [hash, e] of files) {
        if (foreign) {
          await act({kind: 'foreign', path: e.rel, hash, detail: `engine tag ${tag} is not this burn's`}, e, () =>
            underKeyLock(
              layout,
              hash,
              tag,
              () => unchanged(e),
              () => removeIfUnchanged(e),
            ),
          )
        } else if (!scan.objects.has(hash)) {
          await act({kind: 'orphan', path: e.rel, hash, detail: 'its source is not in the store'}, e, () =>
            underKeyLock(
              layout,
              hash,
              tag,
              async () => (await unchanged(e)) && !existsSync(layout.object(hash)),
              () => removeIfUnchanged(e),
            ),
          )
        }
      }
      if (foreign && !dryRun) await removeEmptyDirs(join(layout.compiledDir, tag))
    }
    // Engines records whose source is gone (a register or forget that died midway, trust.ts).
    for (const [hash, e] of scan.engines) {
      if (scan.objects.has(hash)) continue
      await act({kind: 'orphan', path: e.rel, hash, detail: 'engines record of a source that is not in the store'}, e, () =>
        underKeyLocks(
          layout,
          hash,
          [...current],
          async () => (await unchanged(e)) && !existsSync(layout.object(hash)),
          () => removeIfUnchanged(e),
        ),
      )
    }

    // 3. Eviction, by age and then by size, in least-recently-used order.
    let freedDisk = actions.reduce((a, x) => a + (x.done || dryRun ? x.diskBytes : 0), 0)
    const namesOf = new Map<string, string[]>()
    const aliasOf = new Map<string, string>()
    for (const e of scan.names) {
      const target = readAlias(e)
      if (!target) continue
      aliasOf.set(e.rel.slice('names/'.length), target)
      namesOf.set(target, [...(namesOf.get(target) ?? []), e.rel.slice('names/'.length)])
    }
    let evictions: Eviction[] = []
    if (opts.maxSize !== undefined || opts.olderThanMs !== undefined) {
      progress('choosing scripts to evict')
      if (!dryRun) await compactStats(layout, {force: true}).catch(() => false)
      const {used} = await readStats(layout)
      const planned = candidates(scan, used, namesOf, keptTags)
      faultPoint('gc:planned')
      const r = await evict(store, planned, {
        maxSize: opts.maxSize,
        olderThanMs: opts.olderThanMs,
        now,
        currentDisk: before.diskBytes - freedDisk,
        dryRun,
        tags: validTags,
        onProgress: (n) => progress(`evicted ${n} script(s)`),
      })
      evictions = r.evictions
      for (const ev of evictions) {
        actions.push({
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

    // 4. Names that point nowhere (evicted names went with their script above).
    const evictedNames = new Set(evictions.flatMap((ev) => (ev.done || dryRun ? ev.names : [])))
    const evictedHashes = new Set(evictions.filter((ev) => ev.done || dryRun).map((ev) => ev.hash))
    for (const e of scan.names) {
      const name = e.rel.slice('names/'.length)
      const target = aliasOf.get(name)
      if (!target || evictedNames.has(name)) continue
      const gone = dryRun ? !scan.objects.has(target) || evictedHashes.has(target) : !existsSync(layout.object(target))
      if (!gone) continue
      await act(
        {kind: 'dangling-alias', path: e.rel, hash: target, detail: `points to ${target.slice(0, 12)}…, which is not in the store`},
        e,
        async () => (existsSync(layout.object(target)) ? 'changed' : (await removeAlias(layout, name, target)) ? 'done' : 'changed'),
      )
    }

    // 5. Fold the stats; last-use times of scripts that are gone are dropped.
    if (!dryRun)
      await compactStats(layout, {force: true, keepUsed: (h) => FULL_HASH.test(h) && existsSync(layout.object(h))}).catch(() => false)

    const counted = actions.filter((a) => a.done || (dryRun && !a.skipped))
    freedDisk = counted.reduce((a, x) => a + x.diskBytes, 0)
    const freed = {files: counted.reduce((a, x) => a + x.files, 0), bytes: counted.reduce((a, x) => a + x.bytes, 0), diskBytes: freedDisk}
    const after = dryRun
      ? {files: before.files - freed.files, bytes: before.bytes - freed.bytes, diskBytes: before.diskBytes - freed.diskBytes}
      : totalOf(scanStore(layout))
    return {
      store: layout.root,
      dryRun,
      actions,
      freed,
      before,
      after,
      maxSize: opts.maxSize ?? null,
      fits: opts.maxSize === undefined ? null : after.diskBytes <= opts.maxSize,
      skipped: actions.filter((a) => a.skipped).length,
      ms: Date.now() - t0,
    }
  } finally {
    await lock?.release()
  }
}

function readAlias(e: Entry): string | undefined {
  if (e.type !== 'file' || e.size > 1024) return undefined
  try {
    const t = readRegularSync(e.path).toString('utf8').trim()
    return FULL_HASH.test(t) ? t : undefined
  } catch {
    return undefined
  }
}

/** Shard directories and the tag directory of a removed foreign tag, when empty. */
async function removeEmptyDirs(tagDir: string): Promise<void> {
  for (const shard of await readdir(tagDir).catch(() => [] as string[])) await rmdir(join(tagDir, shard)).catch(() => {})
  await rmdir(tagDir).catch(() => {})
}
