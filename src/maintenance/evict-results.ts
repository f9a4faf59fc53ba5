import type {Candidate} from './evict.js'
import {removeIfUnchanged} from './repair.js'
import type {Entry, StoreScan} from '../store/scan.js'

/** One memoized result gc removes (or, in a dry run, would). */
export interface ResultEviction {
  hash: string
  entry: Entry
  reason: 'age' | 'size'
  done: boolean
  skipped?: string
}

export interface ResultEvictOptions {
  maxSize?: number
  olderThanMs?: number
  now: number
  /** Disk use of the store now (after debris removal). */
  currentDisk: number
  dryRun: boolean
}

/*
 * Results are evicted by last use as scripts are (a hit touches the file's mtime: memo.ts), in
 * one least-recently-used order with them: --older-than takes every result unused for longer;
 * --max-size walks results and scripts together, oldest first and a result before a script of
 * the same age (a result is cheaper to make again than a script to register again), until the
 * store fits. Only results are removed here: the scripts of that walk are the ones the script
 * eviction then takes (the same order and sizes), with their results; a result of such a script
 * is left to go with it.
 */
export function planResultEvictions(scan: StoreScan, scripts: Candidate[], opts: ResultEvictOptions): ResultEviction[] {
  const all = [...scan.results].flatMap(([hash, list]) => list.map((entry) => ({hash, entry})))
  const cutoff = opts.olderThanMs === undefined ? undefined : opts.now - opts.olderThanMs
  const going = new Set(cutoff === undefined ? [] : scripts.filter((c) => c.lastUsed < cutoff).map((c) => c.hash))
  const plan: ResultEviction[] = []
  const planned = new Map<string, number>()
  let current = opts.currentDisk
  const take = (r: {hash: string; entry: Entry}, reason: ResultEviction['reason']) => {
    plan.push({...r, reason, done: false})
    planned.set(r.hash, (planned.get(r.hash) ?? 0) + r.entry.disk)
    current -= r.entry.disk
  }
  const old = cutoff === undefined ? [] : all.filter((r) => r.entry.mtimeMs < cutoff && !going.has(r.hash))
  for (const r of old) take(r, 'age')
  for (const c of scripts) if (going.has(c.hash)) current -= c.diskBytes - (planned.get(c.hash) ?? 0)
  if (opts.maxSize === undefined) return plan
  const oldSet = new Set(old)
  type Item = {at: number; result?: {hash: string; entry: Entry}; script?: Candidate}
  const items: Item[] = [
    ...all.filter((r) => !oldSet.has(r) && !going.has(r.hash)).map((r) => ({at: r.entry.mtimeMs, result: r})),
    ...scripts.filter((c) => !going.has(c.hash)).map((c) => ({at: c.lastUsed, script: c})),
  ]
  const order = (x: Item) => x.result?.entry.rel ?? `~${x.script!.hash}`
  items.sort((a, b) => a.at - b.at || (a.result ? 0 : 1) - (b.result ? 0 : 1) || (order(a) < order(b) ? -1 : 1))
  for (const it of items) {
    if (current <= opts.maxSize) break
    if (it.script) {
      going.add(it.script.hash)
      current -= it.script.diskBytes - (planned.get(it.script.hash) ?? 0)
    } else if (!going.has(it.result!.hash)) take(it.result!, 'size')
  }
  return plan
}

/** Removes what was planned, each only if it is still the file planned (a hit since touched it: it stays). */
export async function evictResults(plan: ResultEviction[], dryRun: boolean): Promise<void> {
  if (dryRun) return
  for (const ev of plan) {
    const r = await removeIfUnchanged(ev.entry)
    ev.done = r === 'done'
    if (!ev.done) ev.skipped = 'used since gc planned'
  }
}
