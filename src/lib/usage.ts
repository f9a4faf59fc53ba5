import {lstat, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {listSharded, listTags} from './catalog.js'
import {staleReason, envMs} from './lock.js'
import type {Store} from './store.js'

export interface StoreUsage {
  scripts: number
  names: number
  sourceBytes: number
  compiled: Record<string, {files: number; bytes: number}>
  debris: {tmpFiles: number; tmpBytes: number; staleLocks: number; damagedFiles: number; damagedBytes: number}
  totalBytes: number
}

async function sizeOf(path: string): Promise<number> {
  const st = await lstat(path).catch(() => undefined)
  return st?.isFile() ? st.size : 0
}

async function dirFiles(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).map((f) => join(dir, f))
}

/** What is on disk, by walking it: the sizes reported are the sizes of the files. */
export async function storeUsage(store: Store): Promise<StoreUsage> {
  const {layout} = store
  const u: StoreUsage = {scripts: 0, names: 0, sourceBytes: 0, compiled: {}, debris: {tmpFiles: 0, tmpBytes: 0, staleLocks: 0, damagedFiles: 0, damagedBytes: 0}, totalBytes: 0}
  for (const {path} of await listSharded(layout.objectsDir)) {
    u.scripts++
    u.sourceBytes += await sizeOf(path)
  }
  u.names = (await dirFiles(layout.namesDir)).length
  for (const tag of await listTags(store)) {
    const c = {files: 0, bytes: 0}
    for (const {path} of await listSharded(join(layout.compiledDir, tag))) {
      c.files++
      c.bytes += await sizeOf(path)
    }
    u.compiled[tag] = c
  }
  for (const f of await dirFiles(layout.tmpDir)) {
    u.debris.tmpFiles++
    u.debris.tmpBytes += await sizeOf(f)
  }
  for (const f of await dirFiles(layout.damagedDir)) {
    u.debris.damagedFiles++
    u.debris.damagedBytes += await sizeOf(f)
  }
  const staleMs = envMs('BURN_LOCK_STALE_MS', 10_000)
  for (const f of await dirFiles(layout.pendingDir)) if (await staleReason(f, staleMs)) u.debris.staleLocks++
  u.totalBytes = u.sourceBytes + Object.values(u.compiled).reduce((a, c) => a + c.bytes, 0) + u.debris.tmpBytes + u.debris.damagedBytes
  return u
}
