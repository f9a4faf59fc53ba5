import {lstat} from 'node:fs/promises'
import {eachConcurrently} from '../util/each-concurrently.js'
import {removeScript} from './forget.js'
import {ITEM_WAIT_MS} from './repair.js'
import {faultPoint} from '../util/faults.js'
import type {Entry, StoreScan} from '../store/scan.js'
import type {Store} from '../store/store.js'

/*
 * Eviction by last use. A script's last use is the newest `used` time in the stats (every
 * register and every run records one in the delta it writes anyway, so marking a use costs no
 * extra write), or its registration time when the stats never saw it. Least recently used
 * first; ties by hash, so a plan is deterministic.
 */
export interface Candidate {
  hash: string
  lastUsed: number
  /** What removing it frees on disk: source, compiled forms, memoized results, engines record and names (du's measure). */
  diskBytes: number
  names: string[]
  /** The source as planned: a register since then touched it, and it stays (register.ts). */
  source: Entry
}

export interface Eviction {
  hash: string
  reason: 'age' | 'size'
  lastUsed: number
  names: string[]
  files: number
  bytes: number
  diskBytes: number
  /** false: in use (a registry lock was held) and skipped, or a dry run. */
  done: boolean
  skipped?: string
}

export function candidates(scan: StoreScan, used: Record<string, number>, namesOf: Map<string, string[]>, tags: string[]): Candidate[] {
  const out: Candidate[] = []
  const nameDisk = new Map(scan.names.map((e) => [e.rel.slice('names/'.length), e.disk]))
  for (const [hash, e] of scan.objects) {
    let disk = e.disk + (scan.engines.get(hash)?.disk ?? 0)
    for (const tag of tags) disk += scan.compiled.get(tag)?.get(hash)?.disk ?? 0
    const names = namesOf.get(hash) ?? []
    for (const n of names) disk += nameDisk.get(n) ?? 0
    for (const r of scan.results.get(hash) ?? []) disk += r.disk
    out.push({hash, lastUsed: used[hash] ?? e.mtimeMs, diskBytes: disk, names, source: e})
  }
  return out.sort((a, b) => a.lastUsed - b.lastUsed || (a.hash < b.hash ? -1 : 1))
}

/** The source is as gc planned: no register marked a use since (its ctime, register.ts). */
async function untouched(e: Entry): Promise<boolean> {
  const st = await lstat(e.path).catch(() => undefined)
  return st !== undefined && st.ino === e.ino && st.ctimeMs === e.ctimeMs
}

export interface EvictOptions {
  maxSize?: number
  olderThanMs?: number
  now: number
  /** Disk use of the store now (after debris removal). */
  currentDisk: number
  dryRun: boolean
  tags: string[]
  concurrency?: number
  onProgress?: (evicted: number) => void
}

/**
 * Evicts scripts unused for longer than olderThanMs, then least recently used ones until the
 * store's disk use is at most maxSize. Each removal takes the script's registry locks (a
 * script being registered or republished right now is skipped, and the next one goes instead)
 * and, holding them, checks that its source is as planned: a register since then (which marks
 * its use under the same lock) keeps it.
 */
export async function evict(store: Store, cands: Candidate[], opts: EvictOptions): Promise<{evictions: Eviction[]; diskAfter: number}> {
  const evictions: Eviction[] = []
  let current = opts.currentDisk
  let inFlight = 0
  const old = opts.olderThanMs === undefined ? [] : cands.filter((c) => c.lastUsed < opts.now - opts.olderThanMs!)
  const aged = new Set(old)
  const rest = cands.filter((c) => !aged.has(c))
  const one = async (c: Candidate, reason: Eviction['reason']) => {
    const ev: Eviction = {
      hash: c.hash,
      reason,
      lastUsed: c.lastUsed,
      names: c.names,
      files: 0,
      bytes: 0,
      diskBytes: c.diskBytes,
      done: false,
    }
    evictions.push(ev)
    if (opts.dryRun) {
      current -= c.diskBytes
      return
    }
    const r = await removeScript(store, c.hash, {
      strict: true,
      waitMs: ITEM_WAIT_MS,
      names: c.names,
      tags: opts.tags,
      stillWanted: () => untouched(c.source),
    })
    if (r.busy) {
      ev.skipped = 'in use: a registry lock is held by a live process'
      return
    }
    if (!r.removed) {
      ev.skipped = 'registered again since gc planned'
      return
    }
    Object.assign(ev, {done: true, names: r.names, files: r.files, bytes: r.bytes, diskBytes: r.diskBytes})
    faultPoint('gc:evicted')
    current -= r.diskBytes
    opts.onProgress?.(evictions.filter((e) => e.done).length)
  }
  const pool = (list: Candidate[], reason: Eviction['reason'], more: () => boolean) =>
    eachConcurrently(
      list,
      opts.dryRun ? 1 : (opts.concurrency ?? 4),
      async (c) => {
        inFlight += c.diskBytes
        try {
          await one(c, reason)
        } finally {
          inFlight -= c.diskBytes
        }
      },
      more,
    )
  await pool(old, 'age', () => true)
  if (opts.maxSize !== undefined) {
    const max = opts.maxSize
    await pool(rest, 'size', () => current - inFlight > max)
  }
  return {evictions, diskAfter: current}
}
