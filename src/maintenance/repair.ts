import {lstat, rm} from 'node:fs/promises'
import {lockKey} from '../store/compiled.js'
import {setAside} from '../store/damaged.js'
import {storeError} from '../util/errors.js'
import type {Layout} from '../store/layout.js'
import {acquireLock, Lock, lockWaitMs} from '../store/lock.js'
import type {Entry} from '../store/scan.js'
import {faultPoint} from '../util/faults.js'

/*
 * The removal primitives `gc` and `verify --fix` share. Each one checks again, at the moment
 * it acts and under the lock that guards the file, that the file is still the one judged:
 * another process may have replaced, published or removed it since the walk.
 */

/** Tmp files younger than this may be a publish in flight and are never removed. */
export const DEFAULT_TMP_AGE_MS = 60 * 60 * 1000

/** Registry locks gc and verify wait for before giving up on one item (it is in use). */
export const ITEM_WAIT_MS = 2_000

/** One gc or verify --fix at a time per store (registers and runs are not blocked by it). */
export async function maintenanceLock(layout: Layout, waitMs = lockWaitMs()): Promise<Lock> {
  const lock = await acquireLock(layout.lock('gc'), {waitMs})
  if (!(lock instanceof Lock)) throw storeError('another `burn gc` or `burn verify --fix` is at work on this store; try again when it ends')
  return lock
}

/** The file at e.path is still the one scanned (same inode, size and modification time). */
export async function unchanged(e: Entry): Promise<boolean> {
  const st = await lstat(e.path).catch(() => undefined)
  return st !== undefined && st.ino === e.ino && st.size === e.size && st.mtimeMs === e.mtimeMs
}

export type Outcome = 'done' | 'busy' | 'changed'

/** Runs `act` under the registry lock of (hash, tag), if `still()` holds once it is held. */
export function underKeyLock(
  layout: Layout,
  hash: string,
  tag: string,
  still: () => Promise<boolean>,
  act: () => Promise<unknown>,
): Promise<Outcome> {
  return underKeyLocks(layout, hash, [tag], still, act)
}

/**
 * The same under the registry locks of (hash, tag) for every tag given, taken in that order:
 * what belongs to a script and not to one engine (its engines record) is written by a register
 * of any engine, each holding its own tag's lock.
 */
export async function underKeyLocks(
  layout: Layout,
  hash: string,
  tags: string[],
  still: () => Promise<boolean>,
  act: () => Promise<unknown>,
): Promise<Outcome> {
  const locks: Lock[] = []
  try {
    for (const tag of [...tags].sort()) {
      const lock = await acquireLock(layout.lock(lockKey(hash, tag)), {waitMs: ITEM_WAIT_MS})
      if (!(lock instanceof Lock)) return 'busy'
      locks.push(lock)
    }
    if (!(await still())) return 'changed'
    faultPoint('removal:locked')
    await act()
    return 'done'
  } finally {
    for (const l of locks) await l.release()
  }
}

export async function removeIfUnchanged(e: Entry): Promise<Outcome> {
  if (!(await unchanged(e))) return 'changed'
  await rm(e.path, {force: true, recursive: true})
  return 'done'
}

export async function setAsideIfUnchanged(layout: Layout, e: Entry, kind: string): Promise<Outcome> {
  if (!(await unchanged(e))) return 'changed'
  const moved = await setAside(layout, e.path, kind)
  if (moved) faultPoint('repair:set-aside')
  return moved ? 'done' : 'changed'
}
