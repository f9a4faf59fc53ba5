import {lstatSync, type Stats} from 'node:fs'
import {distrust} from './store-trust.js'

/*
 * What a `burn run` client checks before it hands a call (argv, cwd, stdin) to the socket in
 * <cache>/daemon, what the daemon checks before it listens there, and what `burn daemon
 * stop`/`status` check before they read or remove anything there: that nobody but this user
 * could have put the socket there. Anyone who can write the directory could replace the socket
 * with a server of their own, which would read every call and answer with results of its
 * choosing.
 */

const euid = (): number | undefined => process.geteuid?.()

function ownerProblem(path: string, st: Stats, what: string): string | undefined {
  const me = euid()
  if (me !== undefined && st.uid !== me) return `${what} ${path} is owned by uid ${st.uid}, not by you (uid ${me})`
  return undefined
}

/**
 * Why <cache>/daemon cannot be trusted, with the fix; undefined when it is trusted or missing.
 * The same rule and words as every store directory (store-trust.ts); never followed if a symlink.
 */
export function daemonDirProblem(dir: string): string | undefined {
  let st: Stats
  try {
    st = lstatSync(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === 'ENOENT' ? undefined : `the run daemon directory ${dir} cannot be read (${code})`
  }
  return distrust(dir, st)
}

/**
 * Why the socket at `path` is not one this user's daemon made (this user's, no access for anyone
 * else); undefined: it is. Throws ENOENT.
 */
export function socketProblem(path: string): string | undefined {
  const st = lstatSync(path)
  if (!st.isSocket()) return `${path} is not a socket`
  return ownerProblem(path, st, 'the socket') ?? (st.mode & 0o077 ? `the socket ${path} is open to group or others` : undefined)
}

/**
 * Whether the cache dir could have been changed under the daemon directory by someone else
 * (a symlink, another owner, or writable by group or others): then no socket there is used. The
 * store's own checks report such a cache dir, on the direct path.
 */
export function cacheDirShared(root: string): boolean {
  try {
    return distrust(root, lstatSync(root)) !== undefined
  } catch {
    return true
  }
}
