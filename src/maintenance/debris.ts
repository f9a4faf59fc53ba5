import {acquireLock, breakStaleLock, Lock, staleReason} from '../store/lock.js'
import type {Layout} from '../store/layout.js'
import type {Entry} from '../store/scan.js'
import {exists} from '../store/store.js'
import {removeIfUnchanged, underKeyLocks, unchanged, type Outcome} from './repair.js'

/*
 * What is debris, judged once for `gc`, `verify` and `burn daemon stop`: leftovers that no live
 * process holds and that burn never reads as cache entries. Each judgement comes with its
 * removal, which checks again at the moment it acts (repair.ts): the walk may be old by then.
 */

/** A leftover file and its removal. */
export interface Debris {
  entry: Entry
  /** A lock whose owner is gone, what an interrupted lock break left, or a dead daemon's socket. */
  kind: 'lock' | 'leftover' | 'socket'
  detail: string
  /** Checks again and removes; false or 'changed' when it turned out to be in use or changed meanwhile. */
  remove: () => Promise<Outcome | boolean>
}

const BROKEN_LOCK = /\.lock\.broken\.[0-9a-f]+$/

/** A lock file whose owner is gone (dead, of another host's boot, or silent past `staleMs`). */
export async function staleLock(e: Entry, staleMs: number): Promise<Debris | undefined> {
  const why = await staleReason(e.path, staleMs)
  if (!why) return undefined
  return {entry: e, kind: 'lock', detail: why, remove: async () => Boolean(await breakStaleLock(e.path, staleMs))}
}

/** What a lock break left behind (lock.ts renames a lock aside before removing it), once older than a lock may live. */
function leftover(e: Entry, staleMs: number, now: number): Debris | undefined {
  if (now - e.mtimeMs <= staleMs) return undefined
  return {entry: e, kind: 'leftover', detail: 'leftover of a broken lock', remove: () => removeIfUnchanged(e)}
}

/** A file of pending/: a `.lock` judged by its owner, anything else by its age. */
export function pendingDebris(e: Entry, staleMs: number, now: number): Promise<Debris | undefined> | Debris | undefined {
  return e.rel.endsWith('.lock') ? staleLock(e, staleMs) : leftover(e, staleMs, now)
}

/** Tmp files older than `ageMs`, with their age (younger ones may be a publish in flight). */
export function oldTmp(files: Entry[], ageMs: number, now: number): Array<{entry: Entry; age: number}> {
  return files.map((entry) => ({entry, age: now - entry.mtimeMs})).filter((t) => t.age > ageMs)
}

/**
 * What run daemons that are gone left among `files` (entries of <cache>/daemon): a lock whose
 * owner is gone (killed with -9, or of a burn build or environment no longer used); a socket
 * with no live lock beside it (a live daemon holds its lock, with a heartbeat, from before it
 * listens until its socket is gone), removed holding that lock so that a daemon starting
 * meanwhile cannot bind its socket between the check and the removal; and what an
 * interrupted lock break left.
 */
export async function daemonDebris(files: Entry[], staleMs: number): Promise<Debris[]> {
  const out: Debris[] = []
  const locks = new Set(files.filter((e) => e.path.endsWith('.lock')).map((e) => e.path))
  const dead = new Set<string>()
  for (const e of files.filter((f) => locks.has(f.path))) {
    const d = await staleLock(e, staleMs)
    if (!d) continue
    out.push(d)
    dead.add(e.path)
  }
  for (const e of files) {
    const d = BROKEN_LOCK.test(e.path)
      ? leftover(e, staleMs, Date.now())
      : e.path.endsWith('.sock')
        ? deadSocket(e, locks, dead)
        : undefined
    if (d) out.push(d)
  }
  return out
}

function deadSocket(e: Entry, locks: Set<string>, dead: Set<string>): Debris | undefined {
  const lock = e.path.replace(/\.sock$/, '.lock')
  if (locks.has(lock) && !dead.has(lock)) return undefined
  const remove = async () => {
    const held = await acquireLock(lock, {waitMs: 0, makeDir: false})
    if (!(held instanceof Lock)) return false
    try {
      return (await removeIfUnchanged(e)) === 'done'
    } finally {
      await held.release()
    }
  }
  return {entry: e, kind: 'socket', detail: 'socket of a daemon that is gone', remove}
}

/**
 * Removes a compiled form or engines record whose source is gone, under the registry locks of
 * `tags`: a register of that source may be publishing it again meanwhile.
 */
export function removeOrphan(layout: Layout, e: Entry, hash: string, tags: string[]): Promise<Outcome> {
  return underKeyLocks(
    layout,
    hash,
    tags,
    async () => (await unchanged(e)) && !(await exists(layout.object(hash))),
    () => removeIfUnchanged(e),
  )
}

/** Removes a compiled form of another engine tag, under its registry lock. */
export function removeForeign(layout: Layout, e: Entry, hash: string, tag: string): Promise<Outcome> {
  return underKeyLocks(
    layout,
    hash,
    [tag],
    () => unchanged(e),
    () => removeIfUnchanged(e),
  )
}
