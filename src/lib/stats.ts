import {randomBytes} from 'node:crypto'
import {readdir, readFile, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {writeAtomic} from './atomic.js'
import type {Layout} from './layout.js'
import {acquireLock, Lock} from './lock.js'

/*
 * Counters shared by all processes, exact under concurrency and across kill -9.
 * Each process writes its increments as one new file `stats/d-*.json` (an atomic rename, no
 * read-modify-write, so no lock and no lost update). Readers add totals.json and every delta
 * not yet folded into it. Folding (compaction) runs under a lock: it writes totals.json with
 * the list of deltas it folded (`merged`), then deletes them; a crash between the two leaves
 * deltas that `merged` tells every reader to skip, so nothing is ever counted twice.
 * The same files carry last-use times (for LRU eviction) so a run costs one small write.
 */
export type Counters = Record<string, number>

export interface Delta {
  counters?: Counters
  used?: Record<string, number>
}

export interface Totals {
  since: number
  counters: Counters
  used: Record<string, number>
  merged: string[]
}

const COMPACT_AT = 256

export async function recordStats(layout: Layout, delta: Delta): Promise<void> {
  const name = `d-${Date.now()}-${process.pid}-${randomBytes(4).toString('hex')}.json`
  // Not fsynced: after a power cut a counter may be lost, but never half-written or doubled.
  await writeAtomic(layout.tmpDir, join(layout.statsDir, name), JSON.stringify(delta), 'stats', false)
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    if (error instanceof SyntaxError) return undefined // damaged: verify reports it
    throw error
  }
}

function emptyTotals(): Totals {
  return {since: Date.now(), counters: {}, used: {}, merged: []}
}

function addDelta(into: Totals, d: Delta): void {
  for (const [k, v] of Object.entries(d.counters ?? {})) {
    if (typeof v === 'number' && Number.isFinite(v)) into.counters[k] = (into.counters[k] ?? 0) + v
  }
  for (const [h, t] of Object.entries(d.used ?? {})) {
    if (typeof t === 'number' && t > (into.used[h] ?? 0)) into.used[h] = t
  }
}

async function listDeltas(layout: Layout): Promise<string[]> {
  const names = await readdir(layout.statsDir).catch(() => [] as string[])
  return names.filter((n) => n.startsWith('d-') && n.endsWith('.json')).sort()
}

/** Current totals: a consistent sum of totals.json and unfolded deltas. */
export async function readStats(layout: Layout): Promise<Totals & {deltaFiles: number}> {
  for (let attempt = 0; ; attempt++) {
    // List before reading totals: a fold that happens in between is then seen in totals.
    const names = await listDeltas(layout)
    const base = (await readJson<Totals>(join(layout.statsDir, 'totals.json'))) ?? emptyTotals()
    const totals: Totals = {since: base.since, counters: {...base.counters}, used: {...base.used}, merged: base.merged ?? []}
    const merged = new Set(totals.merged)
    let vanished = false
    let count = 0
    for (const n of names) {
      if (merged.has(n)) continue
      const d = await readJson<Delta>(join(layout.statsDir, n))
      if (d === undefined) {
        vanished = true
        break
      }
      addDelta(totals, d)
      count++
    }
    // A delta that vanished was folded by a concurrent compaction: read again.
    if (!vanished || attempt > 20) return {...totals, deltaFiles: count}
  }
}

/** Folds deltas into totals.json when there are many; `zero` resets counters (not last-use). */
export async function compactStats(layout: Layout, opts: {zero?: boolean; force?: boolean} = {}): Promise<boolean> {
  const names = await listDeltas(layout)
  if (!opts.zero && !opts.force && names.length < COMPACT_AT) return false
  const lock = await acquireLock(layout.lock('stats'), {waitMs: opts.zero ? 30_000 : 0})
  if (!(lock instanceof Lock)) return false
  try {
    const base = (await readJson<Totals>(join(layout.statsDir, 'totals.json'))) ?? emptyTotals()
    const oldMerged = new Set(base.merged ?? [])
    const folding = (await listDeltas(layout)).filter((n) => !oldMerged.has(n))
    const next: Totals = {since: base.since, counters: {...base.counters}, used: {...base.used}, merged: folding}
    for (const n of folding) {
      const d = await readJson<Delta>(join(layout.statsDir, n))
      if (d) addDelta(next, d)
    }
    if (opts.zero) {
      next.counters = {}
      next.since = Date.now()
    }
    await writeAtomic(layout.tmpDir, join(layout.statsDir, 'totals.json'), JSON.stringify(next), 'stats-totals')
    for (const n of [...oldMerged, ...folding]) await rm(join(layout.statsDir, n), {force: true})
    return true
  } finally {
    await lock.release()
  }
}
