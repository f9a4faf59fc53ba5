import {lstatSync, readdirSync, type Stats} from 'node:fs'
import {join} from 'node:path'
import {FULL_HASH, isValidName} from './layout.js'
import type {Layout} from './layout.js'

/*
 * One walk of the whole store, sorted into what each part is: the basis of `burn stats` sizes,
 * of `gc`'s plan and of `verify`'s list of files. Synchronous on purpose: 20,000 lstat calls
 * take tens of milliseconds this way, several times less than one awaited promise per file,
 * and nothing else runs in the process meanwhile. Nothing is read here, only listed.
 */
export interface Entry {
  /** Path relative to the store root, with '/' separators (what reports show). */
  rel: string
  path: string
  size: number
  /** Bytes on disk (st_blocks * 512): what `du` counts. */
  disk: number
  mtimeMs: number
  /** Changes with any write, chmod or utimes: a register's mark of use on a source (register.ts). */
  ctimeMs: number
  mode: number
  uid: number
  ino: number
  type: 'file' | 'dir' | 'other'
}

export type Area = 'objects' | 'compiled' | 'engines' | 'names' | 'results' | 'stats' | 'pending' | 'tmp' | 'damaged' | 'daemon' | 'other'

export interface StoreScan {
  root: string
  /** Sources at their proper place, objects/<hash[0:2]>/<hash>, by hash. */
  objects: Map<string, Entry>
  /** Compiled forms at their proper place, by engine tag and then hash. */
  compiled: Map<string, Map<string, Entry>>
  /** Engines records at their proper place, engines/<hash[0:2]>/<hash>, by hash (trust.ts). */
  engines: Map<string, Entry>
  /** Entries of names/ (valid or not; verify judges them). */
  names: Entry[]
  /** Memoized results at their proper place, results/<hash[0:2]>/<hash>/<memo key>, by script hash. */
  results: Map<string, Array<Entry & {key: string}>>
  /** Idempotency key records, results/keys/<key>. */
  keys: Entry[]
  /** Entries under objects/, compiled/ or engines/ that are not where a hash file belongs. */
  misplaced: Entry[]
  /** Every file (and non-directory) of the store, by area. */
  files: Record<Area, Entry[]>
  /** Every directory, the root included. */
  dirs: Entry[]
}

const AREAS: Record<string, Area> = {
  objects: 'objects',
  compiled: 'compiled',
  engines: 'engines',
  names: 'names',
  results: 'results',
  stats: 'stats',
  pending: 'pending',
  tmp: 'tmp',
  damaged: 'damaged',
  daemon: 'daemon',
}
const SHARD = /^[0-9a-f]{2}$/

function entry(root: string, rel: string, st: Stats): Entry {
  return {
    rel,
    path: join(root, rel),
    size: st.size,
    disk: st.blocks * 512,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    mode: st.mode & 0o7777,
    uid: st.uid,
    ino: st.ino,
    type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other',
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort()
  } catch {
    return [] // gone meanwhile, or unreadable: verify's permission check reports the latter
  }
}

/** The entry of `rel` under `root`, not following links; undefined if it is gone. */
export function statEntry(root: string, rel: string): Entry | undefined {
  try {
    return entry(root, rel, lstatSync(join(root, rel)))
  } catch {
    return undefined // removed between the listing and the stat by another process
  }
}

/** Claims a file found under an area as a proper entry of it (by its path's parts); false: misplaced. */
type Claim = (s: StoreScan, e: Entry, parts: string[]) => boolean

/** Where a hash file belongs in each sharded area, and how many parts its path has there. */
const CLAIMS: Partial<Record<Area, {claim: Claim; leaf: number}>> = {
  // objects/<shard>/<hash>, engines/<shard>/<hash>
  objects: {claim: (s, f, p) => claimSharded(s.objects, f, p), leaf: 3},
  engines: {claim: (s, f, p) => claimSharded(s.engines, f, p), leaf: 3},
  // compiled/<tag>/<shard>/<hash>
  compiled: {
    claim: (s, f, p) => {
      let byHash = s.compiled.get(p[1])
      const ok = claimSharded((byHash ??= new Map()), f, p.slice(1))
      if (ok) s.compiled.set(p[1], byHash)
      return ok
    },
    leaf: 4,
  },
  names: {claim: (s, f) => (s.names.push(f), true), leaf: 2},
  // results/<shard>/<hash>/<key>, results/keys/<key>
  results: {claim: claimResult, leaf: 4},
}

function claimResult(s: StoreScan, f: Entry, p: string[]): boolean {
  if (f.type !== 'file') return false
  if (p.length === 3 && p[1] === 'keys') return isValidName(p[2]) && (s.keys.push(f), true)
  const ok = p.length === 4 && SHARD.test(p[1]) && FULL_HASH.test(p[2]) && p[2].startsWith(p[1]) && FULL_HASH.test(p[3])
  if (!ok) return false
  const list = s.results.get(p[2]) ?? []
  list.push({...f, key: p[3]})
  s.results.set(p[2], list)
  return true
}

function claimSharded(byHash: Map<string, Entry>, f: Entry, p: string[]): boolean {
  const ok = f.type === 'file' && p.length === 3 && SHARD.test(p[1]) && FULL_HASH.test(p[2]) && p[2].startsWith(p[1])
  if (ok) byHash.set(p[2], f)
  return ok
}

/**
 * Everything below `rel` goes to `area`; `claim` may take a file as a proper entry, and a
 * directory at a depth of `leaf` parts or more stands where a file belongs: misplaced (its
 * contents are counted, and go with it when it is set aside).
 */
function walk(s: StoreScan, rel: string, area: Area, claim?: Claim, leaf = Infinity): void {
  for (const name of list(join(s.root, rel))) {
    const r = `${rel}/${name}`
    const e = statEntry(s.root, r)
    if (!e) continue
    if (e.type === 'dir') {
      s.dirs.push(e)
      if (claim && r.split('/').length >= leaf) {
        s.misplaced.push(e)
        walk(s, r, area)
      } else walk(s, r, area, claim, leaf)
      continue
    }
    s.files[area].push(e)
    if (claim && !claim(s, e, r.split('/'))) s.misplaced.push(e)
  }
}

export function scanStore(layout: Layout): StoreScan {
  const root = layout.root
  const s: StoreScan = {
    root,
    objects: new Map(),
    compiled: new Map(),
    engines: new Map(),
    names: [],
    results: new Map(),
    keys: [],
    misplaced: [],
    dirs: [],
    files: {
      objects: [],
      compiled: [],
      engines: [],
      names: [],
      results: [],
      stats: [],
      pending: [],
      tmp: [],
      damaged: [],
      daemon: [],
      other: [],
    },
  }
  const rootEntry = statEntry(root, '')
  if (!rootEntry) return s
  s.dirs.push({...rootEntry, rel: '.'})
  for (const top of list(root)) {
    const e = statEntry(root, top)
    if (!e) continue
    // (own keys only: a file named constructor or __proto__ is just an unknown entry)
    const area = Object.hasOwn(AREAS, top) ? AREAS[top] : undefined
    if (e.type !== 'dir') {
      s.files.other.push(e)
      continue
    }
    s.dirs.push(e)
    const claim = area && CLAIMS[area]
    walk(s, top, area ?? 'other', claim?.claim, claim?.leaf)
  }
  // Tags with a directory but no file yet are still listed, so gc can remove empty foreign tags.
  for (const d of s.dirs) {
    const p = d.rel.split('/')
    if (p[0] === 'compiled' && p.length === 2 && !s.compiled.has(p[1])) s.compiled.set(p[1], new Map())
  }
  return s
}

export interface Sum {
  files: number
  bytes: number
  diskBytes: number
}

export function sum(entries: Iterable<Entry>): Sum {
  const out = {files: 0, bytes: 0, diskBytes: 0}
  for (const e of entries) {
    out.files++
    out.bytes += e.size
    out.diskBytes += e.disk
  }
  return out
}

/** Bytes of every file, and disk use of files and directories (what `du -s -B1` prints). */
export function totalOf(s: StoreScan): Sum {
  const files = sum(Object.values(s.files).flat())
  return {...files, diskBytes: files.diskBytes + s.dirs.reduce((a, d) => a + d.disk, 0)}
}
