import {readFileSync} from 'node:fs'
import {readdir} from 'node:fs/promises'
import {basename, dirname, resolve} from 'node:path'
import {daemonDirProblem} from '../store/daemon-trust.js'
import {storeError} from '../util/errors.js'
import {Layout} from '../store/layout.js'
import {breakJudged, ownerAlive, pidAlive, readInfo, type LockInfo} from '../store/lock.js'
import {daemonDebris} from './debris.js'
import {lockStaleMs} from '../store/lock.js'
import {statEntry} from '../store/scan.js'

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

/** The store's layout, once <cache>/daemon is known to be this user's own (exit 8 otherwise: nothing in it is read or removed). */
function daemonLayout(root: string): Layout {
  const layout = new Layout(resolve(root))
  const problem = daemonDirProblem(layout.daemonDir)
  if (problem) throw storeError(problem)
  return layout
}

export async function listDaemons(root: string): Promise<DaemonInfo[]> {
  const layout = daemonLayout(root)
  const names = await readdir(layout.daemonDir).catch(() => [] as string[])
  const keys = [...new Set(names.filter((n) => /\.(lock|sock)$/.test(n)).map((n) => n.replace(/\.(lock|sock)$/, '')))].sort()
  return Promise.all(
    keys.map(async (key) => {
      // no lock: a socket left by a daemon that died
      const lock = layout.daemonLock(key)
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
  const layout = daemonLayout(root)
  const all = await listDaemons(root)
  const stopping: Array<{lock: string; token: string; pid: number}> = []
  for (const d of all) {
    const lock = layout.daemonLock(d.key)
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
  const files = (await readdir(layout.daemonDir).catch(() => [] as string[])).map((name) => statEntry(root, `daemon/${name}`))
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
