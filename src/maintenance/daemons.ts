import {readFileSync} from 'node:fs'
import {readdir} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'
import {daemonDirProblem} from '../store/daemon-trust.js'
import {storeError} from '../util/errors.js'
import {acquireLock, breakJudged, breakStaleLock, Lock, ownerAlive, pidAlive, readInfo, staleReason, type LockInfo} from '../store/lock.js'
import {lockStaleMs, removeIfUnchanged} from './repair.js'
import {statEntry, type Entry} from '../store/scan.js'

/**
 * The run daemons of a store, as their files in <cache>/daemon show them: `<key>.lock` (a lock
 * of lock.ts, held by the daemon) and `<key>.sock`. One per environment key
 * (src/run/daemon/where.ts).
 */
export interface DaemonInfo {
  key: string
  pid?: number
  /** Its owner is a live burn run daemon of this cache dir (by its command line, where /proc tells). */
  running: boolean
  listening: boolean
  startedAt?: string
}

/** <cache>/daemon, once it is known to be this user's own directory (exit 8 otherwise: nothing in it is read or removed). */
function daemonDir(root: string): string {
  const dir = join(resolve(root), 'daemon')
  const problem = daemonDirProblem(dir)
  if (problem) throw storeError(problem)
  return dir
}

export async function listDaemons(root: string): Promise<DaemonInfo[]> {
  const dir = daemonDir(root)
  const names = await readdir(dir).catch(() => [] as string[])
  const keys = [...new Set(names.filter((n) => /\.(lock|sock)$/.test(n)).map((n) => n.replace(/\.(lock|sock)$/, '')))].sort()
  return Promise.all(
    keys.map(async (key) => {
      // no lock: a socket left by a daemon that died
      const lock = join(dir, `${key}.lock`)
      const info = await readInfo(lock)
      return {
        key,
        pid: info?.pid,
        running: info ? ownerAlive(info) && isDaemonProcess(info.pid, lock) !== false : false,
        listening: names.includes(`${key}.sock`),
        startedAt: info ? new Date(info.created).toISOString() : undefined,
      }
    }),
  )
}

/**
 * Whether `pid` is the run daemon holding the lock at `lockPath`, by its command line: the
 * daemon bundle, then this cache dir, socket and lock (as client.ts starts it). Undefined where
 * there is no /proc to tell.
 */
export function isDaemonProcess(pid: number, lockPath: string): boolean | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  if (process.platform !== 'linux') return undefined
  let args: string[]
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1)
  } catch {
    return false
  }
  const [bundle, cacheDir, socket, lock] = args.slice(-4)
  return (
    args.length >= 4 &&
    basename(bundle) === 'daemon.js' &&
    cacheDir === dirname(dirname(lockPath)) &&
    socket === lockPath.replace(/\.lock$/, '.sock') &&
    lock === lockPath
  )
}

/** Asks the daemon listening at a socket to stop; the token it proves, undefined when none answered. */
export type AskToStop = (socket: string) => Promise<string | undefined>

/**
 * Stops every run daemon of the store and clears what dead ones left. Nothing is signalled on
 * the word of a lock file alone: a daemon is asked over its socket (it answers with its lock's
 * token), or, still starting, is sent SIGTERM only if its command line shows it is this cache
 * dir's daemon. Any other lock (a PID that is gone, reused, not positive, or planted) is debris,
 * removed without signalling anything; a live daemon that loses its lock that way exits on its
 * own (server.ts watch()).
 */
export async function stopDaemons(root: string, ask: AskToStop, waitMs = 10_000): Promise<DaemonInfo[]> {
  const dir = daemonDir(root)
  const all = await listDaemons(root)
  const stopping: Array<{lock: string; token: string; pid: number}> = []
  for (const d of all) {
    const lock = join(dir, `${d.key}.lock`)
    const info = await readInfo(lock)
    if (!info) continue // no owner record: daemonDebris judges it by its age
    d.running = await stopOne(lock, info, d.listening, ask)
    if (d.running) stopping.push({lock, token: info.token, pid: info.pid})
    else await breakJudged(lock, info)
  }
  const deadline = Date.now() + waitMs
  // Gone: its lock released and its process exited (the PID is only watched, never signalled).
  const left = async (s: (typeof stopping)[number]) => (await readInfo(s.lock))?.token === s.token || pidAlive(s.pid)
  const held = async () => (await Promise.all(stopping.map(left))).some(Boolean)
  while (Date.now() < deadline && (await held())) await new Promise((r) => setTimeout(r, 25))
  const files = (await readdir(dir).catch(() => [] as string[])).map((name) => statEntry(root, `daemon/${name}`))
  for (const d of await daemonDebris(
    files.filter((e) => e !== undefined),
    lockStaleMs(),
  ))
    await d.remove()
  return all
}

/** Whether the lock's owner is a daemon of this cache dir, now asked to stop. */
async function stopOne(lock: string, info: LockInfo, listening: boolean, ask: AskToStop): Promise<boolean> {
  if (listening && (await ask(lock.replace(/\.lock$/, '.sock'))) === info.token) return true
  if (!ownerAlive(info) || !isDaemonProcess(info.pid, lock)) return false
  process.kill(info.pid, 'SIGTERM')
  return true
}

/** A file in <cache>/daemon that no live daemon holds, and its removal. */
export interface DaemonDebris {
  entry: Entry
  detail: string
  /** Checks again and removes; false when it turned out to be in use or changed meanwhile. */
  remove: () => Promise<boolean>
}

/**
 * What run daemons that are gone left among `files` (entries of <cache>/daemon): a lock whose
 * owner is gone (killed with -9, or of a burn build or environment no longer used); a socket
 * with no live lock beside it (a live daemon holds its lock, with a heartbeat, from before it
 * listens until its socket is gone), removed holding that lock so that a daemon starting
 * meanwhile cannot bind its socket between the check and the removal; and what an
 * interrupted lock break left.
 */
export async function daemonDebris(files: Entry[], staleMs: number): Promise<DaemonDebris[]> {
  const out: DaemonDebris[] = []
  const removed = async (e: Entry) => (await removeIfUnchanged(e)) === 'done'
  const locks = new Map(files.filter((e) => e.path.endsWith('.lock')).map((e) => [e.path, e]))
  const dead = new Set<string>()
  for (const [path, entry] of locks) {
    const why = await staleReason(path, staleMs)
    if (!why) continue
    dead.add(path)
    out.push({entry, detail: why, remove: async () => Boolean(await breakStaleLock(path, staleMs))})
  }
  for (const entry of files) {
    if (/\.lock\.broken\.[0-9a-f]+$/.test(entry.path)) {
      if (Date.now() - entry.mtimeMs > staleMs) out.push({entry, detail: 'leftover of a broken lock', remove: () => removed(entry)})
      continue
    }
    if (!entry.path.endsWith('.sock')) continue
    const lock = entry.path.replace(/\.sock$/, '.lock')
    if (locks.has(lock) && !dead.has(lock)) continue
    out.push({
      entry,
      detail: 'socket of a daemon that is gone',
      remove: async () => {
        const held = await acquireLock(lock, {waitMs: 0, makeDir: false})
        if (!(held instanceof Lock)) return false
        try {
          return await removed(entry)
        } finally {
          await held.release()
        }
      },
    })
  }
  return out
}
