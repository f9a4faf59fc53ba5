import {readdir, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {randomHex, writeAtomic} from '../atomic.js'
import {setAside} from '../damaged.js'
import type {CounterDelta} from './counters.js'
import type {Layout} from '../layout.js'
import {withLock} from '../lock.js'
import {notRegular, readRegular} from '../../util/read-regular.js'
import {faultPoint} from '../../util/faults.js'

/*
 * Counters shared by all processes, exact under concurrency and across kill -9.
 * Each process writes its increments as one new file `stats/d-*.json` (an atomic rename, no
 * read-modify-write, so no lock and no lost update). Readers add totals.json and every delta
 * not yet folded into it. Folding (compaction) runs under a lock: it deletes the deltas the
 * previous fold had listed, writes totals.json with the list of deltas it folds now (`merged`),
 * then deletes those; a crash anywhere leaves deltas that `merged` tells every reader to skip,
 * or deltas not folded yet, so nothing is ever counted twice or lost.
 * The same files carry last-use times (for LRU eviction) so a run costs one small write.
 * Any process that writes a delta folds now and then (about one write in COMPACT_EVERY checks,
 * and only past COMPACT_AT deltas), so stats/ stays small without a daemon.
 */
/** Counters as read back: ids of counters.ts, and any other a different burn wrote to the same store. */
export type Counters = Record<string, number>

export interface Delta {
  /** Code that counts passes a CounterDelta (counters.ts); tests and folding pass any. */
  counters?: Counters | CounterDelta
  used?: Record<string, number>
}

export interface Totals {
  since: number
  counters: Counters
  used: Record<string, number>
  merged: string[]
}

const COMPACT_AT = 256
const COMPACT_EVERY = 32

export async function recordStats(layout: Layout, delta: Delta): Promise<void> {
  const name = `d-${Date.now()}-${process.pid}-${randomHex(4)}.json`
  // Not fsynced: after a power cut a counter may be lost, but never half-written or doubled.
  await writeAtomic(layout.tmpDir, join(layout.statsDir, name), JSON.stringify(delta), 'stats', false)
  if (Math.random() * COMPACT_EVERY < 1) await compactStats(layout).catch(() => false)
}

type Read<T> = {value: T} | {missing: true} | {damaged: string}

async function readJson<T>(path: string): Promise<Read<T>> {
  let text: string
  try {
    text = (await readRegular(path)).toString('utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {missing: true}
    // a FIFO, a symbolic link or a directory where a stats file belongs: damage, never a hang
    if (notRegular(error)) return {damaged: (error as Error).message}
    throw error
  }
  try {
    const value = JSON.parse(text) as unknown
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return {damaged: 'not a JSON object'}
    return {value: value as T}
  } catch (error) {
    return {damaged: (error as Error).message}
  }
}

/** Checks one file of stats/ as a reader would: undefined when it is sound. */
export async function checkStatsFile(path: string): Promise<string | undefined> {
  const r = await readJson<Record<string, unknown>>(path)
  if ('damaged' in r) return `not valid JSON (${r.damaged})`
  if ('missing' in r) return undefined
  const v = r.value
  const isNumbers = (o: unknown) =>
    o === undefined || (typeof o === 'object' && o !== null && Object.values(o).every((n) => typeof n === 'number'))
  if (!isNumbers(v.counters) || !isNumbers(v.used)) return 'counters or last-use times are not numbers'
  return undefined
}

const deltaTime = (name: string) => Number(name.split('-')[1])

function totalsFrom(r: Read<Totals>, deltas: string[]): Totals {
  if ('value' in r) {
    const b = r.value
    return {
      since: typeof b.since === 'number' ? b.since : Date.now(),
      counters: {...b.counters},
      used: {...b.used},
      merged: Array.isArray(b.merged) ? b.merged : [],
    }
  }
  // Never folded yet: the counters run since the oldest delta.
  const first = deltas.map(deltaTime).find((t) => Number.isFinite(t))
  return {since: first ?? Date.now(), counters: {}, used: {}, merged: []}
}

/**
 * A stats file is read from disk: a key named constructor or toString is a counter like any
 * other (own keys only), and __proto__, which no counter is named, is dropped.
 */
function addDelta(into: Totals, d: Delta): void {
  const own = (o: Counters, k: string) => (Object.hasOwn(o, k) ? o[k] : 0)
  for (const [k, v] of Object.entries(d.counters ?? {})) {
    if (k !== '__proto__' && typeof v === 'number' && Number.isFinite(v)) into.counters[k] = own(into.counters, k) + v
  }
  for (const [h, t] of Object.entries(d.used ?? {})) {
    if (h !== '__proto__' && typeof t === 'number' && t > own(into.used, h)) into.used[h] = t
  }
}

async function listDeltas(layout: Layout): Promise<string[]> {
  const names = await readdir(layout.statsDir).catch(() => [] as string[])
  return names.filter((n) => n.startsWith('d-') && n.endsWith('.json')).sort()
}

const totalsPath = (layout: Layout) => join(layout.statsDir, 'totals.json')

/** Current totals: a consistent sum of totals.json and unfolded deltas (damaged files are skipped). */
export async function readStats(layout: Layout): Promise<Totals & {deltaFiles: number}> {
  for (let attempt = 0; ; attempt++) {
    // List before reading totals: a fold that happens in between is then seen in totals.
    const names = await listDeltas(layout)
    const totals = totalsFrom(await readJson<Totals>(totalsPath(layout)), names)
    const merged = new Set(totals.merged)
    let vanished = false
    let count = 0
    for (const n of names) {
      if (merged.has(n)) continue
      const d = await readJson<Delta>(join(layout.statsDir, n))
      if ('missing' in d) {
        vanished = true
        break
      }
      if ('value' in d) addDelta(totals, d.value)
      count++
    }
    // A delta that vanished was folded by a concurrent compaction: read again.
    if (!vanished || attempt > 20) return {...totals, deltaFiles: count}
  }
}

export interface CompactOptions {
  /** Reset the counters (not the last-use times) and restart `since`. */
  zero?: boolean
  /** Fold even when there are few deltas. */
  force?: boolean
  /** Keep the last-use time of a hash only while this says so (gc: while the script exists). */
  keepUsed?: (hash: string) => boolean
}

/** Folds deltas into totals.json when there are many (or when forced); see the top comment. */
export async function compactStats(layout: Layout, opts: CompactOptions = {}): Promise<boolean> {
  const names = await listDeltas(layout)
  if (!opts.zero && !opts.force && names.length < COMPACT_AT) return false
  const waitMs = opts.zero || opts.force ? 30_000 : 0
  return withLock(layout.lock('stats'), {waitMs, busy: () => false}, async () => {
    const current = await listDeltas(layout)
    const read = await readJson<Totals>(totalsPath(layout))
    // A damaged totals.json is kept for `verify` to show; the counters start again from here.
    if ('damaged' in read) await setAside(layout, totalsPath(layout), 'stats')
    const base = totalsFrom(read, current)
    const oldMerged = new Set(base.merged)
    // Deltas of the previous fold are in base already and skipped by every reader: delete them
    // before the new totals.json stops listing them, so no reader can count them twice.
    for (const n of oldMerged) await rm(join(layout.statsDir, n), {force: true})
    faultPoint('fold:previous-cleared')
    const folding = current.filter((n) => !oldMerged.has(n))
    const next: Totals = {since: base.since, counters: base.counters, used: base.used, merged: []}
    for (const n of folding) {
      const d = await readJson<Delta>(join(layout.statsDir, n))
      if ('value' in d) {
        addDelta(next, d.value)
        next.merged.push(n)
      } else if ('damaged' in d) {
        await setAside(layout, join(layout.statsDir, n), 'stats')
      }
    }
    if (opts.zero) {
      next.counters = {}
      next.since = Date.now()
    }
    if (opts.keepUsed) for (const h of Object.keys(next.used)) if (!opts.keepUsed(h)) delete next.used[h]
    await writeAtomic(layout.tmpDir, totalsPath(layout), JSON.stringify(next), 'stats-totals')
    for (const n of next.merged) {
      await rm(join(layout.statsDir, n), {force: true})
      faultPoint('fold:delta-removed')
    }
    return true
  })
}
