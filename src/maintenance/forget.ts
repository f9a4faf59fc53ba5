import {lstat, readdir, rm, unlink} from 'node:fs/promises'
import {join} from 'node:path'
import {removeName} from '../store/names.js'
import {listTags, readNames} from './catalog.js'
import {lockKey} from '../store/compiled.js'
import {setAside} from '../store/damaged.js'
import {BurnError} from '../util/errors.js'
import {acquireLock, Lock} from '../store/lock.js'
import {engineTag, ENGINES} from '../engines/tag.js'
import {resolveScript} from '../store/resolve.js'
import {checkScriptDirs, type Store} from '../store/store.js'
import {faultPoint} from '../util/faults.js'

export interface ForgetOutcome {
  ref: string
  hash: string | null
  removed: boolean
  names: string[]
}

/**
 * Removes a script's source, every compiled form, its memoized results, its engines record and every name pointing at it. Idempotent:
 * a reference that matches nothing is reported as already gone, exit 0. It takes the registry
 * lock of every (hash, engine tag) first, so it never races a register publishing that key.
 */
export async function forgetScript(store: Store | undefined, ref: string): Promise<ForgetOutcome> {
  let hash: string
  try {
    hash = await resolveScript(store, ref)
  } catch (error) {
    if (error instanceof BurnError && error.kind === 'notFound' && !error.data.candidates)
      return {ref, hash: null, removed: false, names: []}
    throw error
  }
  const r = await removeScript(store!, hash)
  return {ref, hash, removed: true, names: r.names}
}

export interface RemoveOptions {
  /** Wait this long for each registry lock (default: the registry's own wait). */
  waitMs?: number
  /** Give up (and remove nothing) when a lock cannot be taken: gc and verify never act unlocked. */
  strict?: boolean
  /** Engine tags to lock and clean (default: every tag on disk and every current one). */
  tags?: string[]
  /** Names that pointed to the hash when the caller looked (default: read every name now). */
  names?: string[]
  /** Set the source aside to damaged/ instead of deleting it (verify --fix). */
  setAsideSource?: boolean
  /** Asked again once the locks are held: false leaves everything in place. */
  stillWanted?: () => Promise<boolean>
}

export interface Removal {
  removed: boolean
  /** A lock was held by a live process (strict mode): nothing was touched. */
  busy: boolean
  names: string[]
  files: number
  bytes: number
  diskBytes: number
}

/**
 * The one way a script leaves the store (forget, gc eviction, verify --fix of a damaged
 * source): lock every (hash, tag) key in a fixed order, then remove names, compiled forms, the
 * source and last its engines record, so a crash midway leaves at worst a source without names
 * (or a record without source, debris gc removes), never a name or compiled form without its
 * source that a register could mistake for a published one.
 */
export async function removeScript(store: Store, hash: string, opts: RemoveOptions = {}): Promise<Removal> {
  const {layout} = store
  const tags = [...new Set([...(opts.tags ?? (await listTags(store))), ...ENGINES.map((e) => engineTag(e))])].sort()
  checkScriptDirs(layout, hash, tags)
  const out: Removal = {removed: false, busy: false, names: [], files: 0, bytes: 0, diskBytes: 0}
  const locks: Lock[] = []
  const gone = async (path: string, how: 'rm' | 'aside' = 'rm') => {
    const st = await lstat(path).catch(() => undefined)
    if (!st) return
    if (how === 'aside') {
      if (!(await setAside(layout, path, 'object'))) return
    } else if (st.isDirectory()) await rm(path, {force: true, recursive: true})
    else await unlink(path).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)))
    out.files++
    out.bytes += st.size
    out.diskBytes += st.blocks * 512
  }
  try {
    for (const tag of tags) {
      const l = await acquireLock(layout.lock(lockKey(hash, tag)), opts.waitMs === undefined ? {} : {waitMs: opts.waitMs})
      if (l instanceof Lock) locks.push(l)
      else if (opts.strict) {
        out.busy = true
        return out
      }
    }
    faultPoint('forget:locked')
    if (opts.stillWanted && !(await opts.stillWanted())) return out
    const candidates = opts.names ?? [...(await readNames(store))].filter(([, h]) => h === hash).map(([n]) => n)
    for (const n of candidates) {
      const r = await removeName(layout, n, hash)
      if (r) {
        out.names.push(n)
        out.files++
        out.bytes += r.size
        out.diskBytes += r.diskBytes
      }
    }
    faultPoint('forget:names-removed')
    for (const tag of tags) await gone(layout.compiled(tag, hash))
    // its memoized results: nothing else finds them once the source is gone
    const results = layout.resultsOf(hash)
    // (a link in its place is removed itself, never followed out of the store)
    const isDir = (await lstat(results).catch(() => undefined))?.isDirectory()
    if (isDir) for (const f of await readdir(results).catch(() => [])) await gone(join(results, f))
    await rm(results, {recursive: !!isDir, force: true}).catch(() => {})
    faultPoint('forget:compiled-removed')
    await gone(layout.object(hash), opts.setAsideSource ? 'aside' : 'rm')
    faultPoint('forget:source-removed')
    // The record goes last: a source left without it by a crash would run on v8 (trust.ts).
    await gone(layout.engines(hash))
    out.removed = true
    return out
  } finally {
    for (const l of locks) await l.release()
  }
}
