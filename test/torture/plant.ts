import {createHash, randomBytes} from 'node:crypto'
import {chmodSync, mkdirSync, readdirSync, renameSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {dirname, join} from 'node:path'

/*
 * Debris and damage put into a store by hand, as crashes, other tools or a bad disk would leave
 * them, so that every step of `burn gc` and every repair of `burn verify --fix` has something to
 * act on (and their fault points something to interrupt). Each returns the store-relative paths
 * it made: the harness tells planted damage from damage burn made itself by them.
 */
export type Plant =
  | 'old-tmp'
  | 'stale-lock'
  | 'dead-daemon'
  | 'set-aside'
  | 'foreign-compiled'
  | 'orphan-compiled'
  | 'orphan-engines'
  | 'dangling-name'
  | 'bad-name'
  | 'bad-stats'
  | 'bad-compiled'
  | 'bad-engines'
  | 'bad-mode'

/** What gc removes (debris), and what verify --fix repairs (damage and debris). */
export const GC_PLANTS: Plant[] = [
  'old-tmp',
  'stale-lock',
  'dead-daemon',
  'set-aside',
  'foreign-compiled',
  'orphan-compiled',
  'orphan-engines',
  'dangling-name',
]
export const REPAIR_PLANTS: Plant[] = [
  'bad-name',
  'bad-stats',
  'bad-compiled',
  'bad-engines',
  'bad-mode',
  'orphan-compiled',
  'dangling-name',
]

const rand = () => randomBytes(6).toString('hex')
const fakeHash = () => randomBytes(32).toString('hex')
// A pid no process can have (above Linux's pid_max): its lock's owner is gone.
const DEAD_PID = 999_999_999

function put(root: string, rel: string, data: string, mode = 0o600): string {
  const path = join(root, rel)
  mkdirSync(dirname(path), {recursive: true, mode: 0o700})
  // whole or not at all, as a crash of a writer would leave it: staged beside, renamed
  const tmp = `${path}.planting-${rand()}`
  writeFileSync(tmp, data, {mode})
  chmodSync(tmp, mode)
  renameSync(tmp, path)
  return rel
}

/** The engine tag directory a store's compiled forms are in now (undefined: none yet). */
function currentTag(root: string): string | undefined {
  try {
    return readdirSync(join(root, 'compiled')).find((t) => !t.startsWith('planted'))
  } catch {
    return undefined
  }
}

/** A compiled form of a registered script (undefined: none). */
function someCompiled(root: string, pick: (n: number) => number): string | undefined {
  const tag = currentTag(root)
  if (!tag) return undefined
  const files: string[] = []
  for (const shard of readdirSync(join(root, 'compiled', tag))) {
    for (const f of readdirSync(join(root, 'compiled', tag, shard))) files.push(join('compiled', tag, shard, f))
  }
  return files.length ? files[pick(files.length)] : undefined
}

/** Plants one kind of debris or damage in the store at `root`; `pick(n)`: a random index below n. */
export function plant(root: string, what: Plant, pick: (n: number) => number = (n) => Math.floor(Math.random() * n)): string[] {
  const lockInfo = JSON.stringify({pid: DEAD_PID, host: hostname(), token: 'planted', created: Date.now()})
  switch (what) {
    case 'old-tmp': {
      const rel = put(root, join('tmp', `planted.${rand()}.tmp`), 'half a write')
      const old = Date.now() / 1000 - 3 * 3600
      utimesSync(join(root, rel), old, old)
      return [rel]
    }
    case 'stale-lock':
      return [put(root, join('pending', `planted-${rand()}.lock`), lockInfo)]
    case 'dead-daemon': {
      const key = randomBytes(10).toString('hex')
      return [put(root, join('daemon', `${key}.lock`), lockInfo)]
    }
    case 'set-aside':
      return [put(root, join('damaged', `planted.${rand()}`), 'set aside')]
    case 'foreign-compiled': {
      const h = fakeHash()
      return [put(root, join('compiled', 'planted-tag', h.slice(0, 2), h), 'a compiled form of another engine')]
    }
    case 'orphan-compiled': {
      const tag = currentTag(root)
      if (!tag) return []
      const h = fakeHash()
      return [put(root, join('compiled', tag, h.slice(0, 2), h), 'a compiled form without its source')]
    }
    case 'orphan-engines': {
      const h = fakeHash()
      return [put(root, join('engines', h.slice(0, 2), h), '["v8"]\n')]
    }
    case 'dangling-name':
      return [put(root, join('names', `planted-${rand()}`), fakeHash() + '\n')]
    case 'bad-name':
      return [put(root, join('names', `planted-bad-${rand()}`), 'not a hash\n')]
    case 'bad-stats':
      return [put(root, join('stats', `d-${Date.now()}-1-${rand()}.json`), '{"counters": {"runs.ok": ')]
    case 'bad-compiled': {
      const rel = someCompiled(root, pick)
      return rel ? [put(root, rel, `not a compiled form ${rand()}`)] : []
    }
    case 'bad-engines':
    case 'bad-mode': {
      // A script of its own (never run by the harness), so the damage changes no result.
      const source = `module.exports = 'planted ${rand()}'\n`
      const h = createHash('sha256').update(source).digest('hex')
      const obj = put(root, join('objects', h.slice(0, 2), h), source)
      if (what === 'bad-mode') {
        chmodSync(join(root, obj), 0o644)
        return [obj]
      }
      return [obj, put(root, join('engines', h.slice(0, 2), h), '["v8", 42')]
    }
  }
}
