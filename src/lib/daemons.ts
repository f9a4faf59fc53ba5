import {readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {acquireLock, breakStaleLock, Lock, ownerAlive, pidAlive, readInfo, staleReason} from './lock.js'
import {lockStaleMs, removeIfUnchanged} from './repair.js'
import {statEntry, type Entry} from './scan.js'

/**
 * The run daemons of a store, as their files in <cache>/daemon show them: `<key>.lock` (a lock
 * of lock.ts, held by the daemon) and `<key>.sock`. One per environment key
 * (src/cli/daemon/where.ts).
 */
export interface DaemonInfo {
  key: string
  pid?: number
  running: boolean
  listening: boolean
  startedAt?: string
}

export async function listDaemons(root: string): Promise<DaemonInfo[]> {
  const dir = join(root, 'daemon')
  const names = await readdir(dir).catch(() => [] as string[])
  const keys = [...new Set(names.map((n) => n.replace(/\.(lock|sock)$/, '')))].sort()
  return Promise.all(keys.map(async (key) => {
    // no lock: a socket left by a daemon that died
    const info = await readInfo(join(dir, `${key}.lock`))
    return {
      key, pid: info?.pid, running: info ? ownerAlive(info) : false, listening: names.includes(`${key}.sock`),
      startedAt: info ? new Date(info.created).toISOString() : undefined,
    }
  }))
}

/** Asks every running daemon to finish its calls and exit (SIGTERM), waits, and clears what dead ones left. */
export async function stopDaemons(root: string, waitMs = 10_000): Promise<DaemonInfo[]> {
  const all = await listDaemons(root)
  for (const d of all) if (d.running) process.kill(d.pid!, 'SIGTERM')
  const deadline = Date.now() + waitMs
  while (all.some((d) => d.running && pidAlive(d.pid!)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
  const files = (await readdir(join(root, 'daemon')).catch(() => [] as string[])).map((name) => statEntry(root, `daemon/${name}`))
  for (const d of await daemonDebris(files.filter((e) => e !== undefined), lockStaleMs())) await d.remove()
  return all
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
    out.push({entry, detail: 'socket of a daemon that is gone', remove: async () => {
      const held = await acquireLock(lock, {waitMs: 0, makeDir: false})
      if (!(held instanceof Lock)) return false
      try {
        return await removed(entry)
      } finally {
        await held.release()
      }
    }})
  }
  return out
}
