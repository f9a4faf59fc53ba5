import {lstatSync, type Stats} from 'node:fs'
import {dirname} from 'node:path'
import {storeError} from '../util/errors.js'

/*
 * The store's trust boundary: everything burn runs comes out of the cache directory, so another
 * local user who can write into it (or who owns it) can make you run their code. A store
 * directory is trusted only when it is a real directory (not a symbolic link), owned by the
 * user burn runs as (root included: root does not run code out of another user's directory),
 * and not writable by group or others. Read access for others is allowed on the cache dir
 * itself (a directory you made with mkdir is 0755) because burn makes every directory inside it
 * 0700, so nothing in it can be read through it; `burn verify` reports (and --fix removes)
 * group or other bits on those.
 */

const euid = () => process.geteuid?.()

/** Why the store directory `path` is not to be trusted (with the fix), or undefined when it is. */
export function distrust(path: string, st: Stats, uid = euid()): string | undefined {
  if (st.isSymbolicLink())
    return `${path} is a symbolic link; burn does not follow links out of its store: remove it or pass another --cache-dir`
  if (!st.isDirectory()) return `${path} is not a directory; remove it or pass another --cache-dir`
  if (uid === undefined) return undefined // no owners to compare (Windows)
  if (st.uid !== uid) {
    return (
      `${path} is owned by uid ${st.uid}, not by you (uid ${uid}): its owner decides what burn would run; ` +
      `pass another --cache-dir (or, if it is yours, \`chown -R ${uid} ${path}\`)`
    )
  }
  const writable = st.mode & 0o022
  if (writable) {
    const who = writable === 0o022 ? 'group and others' : writable & 0o020 ? 'group' : 'others'
    return (
      `${path} is writable by ${who} (mode 0${(st.mode & 0o777).toString(8)}): they could plant scripts you would run; ` +
      `\`chmod 700 ${path}\` if nobody else wrote into it, or pass another --cache-dir`
    )
  }
  return undefined
}

/** Checks one store directory (exit 8 when it cannot be trusted); false when it does not exist. */
export function checkStoreDir(path: string): boolean {
  let st: Stats
  try {
    st = lstatSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw storeError(`cannot open ${path}: ${(error as Error).message}`)
  }
  const why = distrust(path, st)
  if (why) throw storeError(why, {path})
  return true
}

/** Checks the `levels` directories above a store file (shard and tag directories) before it is read. */
export function checkParents(file: string, levels: number): void {
  let dir = file
  for (let i = 0; i < levels; i++) {
    dir = dirname(dir)
    checkStoreDir(dir)
  }
}
