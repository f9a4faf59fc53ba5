import {lockStaleMs, staleReason} from '../store/lock.js'
import {engineTag, ENGINES} from '../engines/tag.js'
import {scanStore, sum, totalOf, type Area, type Sum} from '../store/scan.js'
import type {Store} from '../store/store.js'

export interface StoreUsage {
  scripts: number
  names: number
  sourceBytes: number
  compiled: Record<string, Sum & {foreign: boolean}>
  /** Memoized results and idempotency key records (results/). */
  results: Sum
  debris: {tmpFiles: number; tmpBytes: number; locks: number; staleLocks: number; damagedFiles: number; damagedBytes: number}
  /** Every part of the store: files, bytes (sum of file sizes) and bytes on disk. */
  areas: Record<Area, Sum>
  totalFiles: number
  /** Sum of the sizes of every file in the store. */
  totalBytes: number
  /** Disk used by files and directories: what `du -s -B1 <store>` prints. */
  diskBytes: number
}

export const currentTags = (): string[] => ENGINES.map((e) => engineTag(e))

/** What is on disk, by walking it: the sizes reported are the sizes of the files. */
export async function storeUsage(store: Store): Promise<StoreUsage> {
  const scan = scanStore(store.layout)
  const current = new Set(currentTags())
  const areas = Object.fromEntries(Object.entries(scan.files).map(([k, v]) => [k, sum(v)])) as Record<Area, Sum>
  // (no prototype: a compiled/ directory named __proto__ or constructor is a tag like any other)
  const compiled: StoreUsage['compiled'] = Object.create(null) as StoreUsage['compiled']
  for (const [tag, files] of scan.compiled) compiled[tag] = {...sum(files.values()), foreign: !current.has(tag)}
  const staleMs = lockStaleMs()
  let staleLocks = 0
  for (const f of scan.files.pending) if (await staleReason(f.path, staleMs)) staleLocks++
  const total = totalOf(scan)
  return {
    scripts: scan.objects.size,
    names: scan.names.length,
    sourceBytes: areas.objects.bytes,
    compiled,
    results: areas.results,
    debris: {
      tmpFiles: areas.tmp.files,
      tmpBytes: areas.tmp.bytes,
      locks: areas.pending.files,
      staleLocks,
      damagedFiles: areas.damaged.files,
      damagedBytes: areas.damaged.bytes,
    },
    areas,
    totalFiles: total.files,
    totalBytes: total.bytes,
    diskBytes: total.diskBytes,
  }
}
