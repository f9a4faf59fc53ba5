import {lstat, readdir, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {acquireLock, breakStaleLock, Lock, ownerAlive, pidAlive, readInfo, staleReason} from './lock.js'
import {lockStaleMs} from './repair.js'

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
  const dir = join(root, 'daemon')
  const files = await Promise.all((await readdir(dir).catch(() => [] as string[])).map(async (name) => {
    const st = await lstat(join(dir, name)).catch(() => undefined)
    return st && {name, ino: st.ino, mtimeMs: st.mtimeMs}
  }))
  for (const d of await daemonDebris(dir, files.filter((f) => f !== undefined), lockStaleMs())) await d.remove()
  return all
}

/** A file in <cache>/daemon that no live daemon holds, and its removal. */
export interface DaemonDebris {
  name: string
  detail: string
  /** Checks again and removes; false when it turned out to be in use or changed meanwhile. */
  remove: () => Promise<boolean>
}

/**
 * What run daemons that are gone left in `dir` (killed with -9, or of a burn build or
 * environment no longer used): a lock whose owner is gone; a socket with no live lock beside
 * it (a live daemon holds its lock, with a heartbeat, from before it listens until its socket
 * is gone), removed holding that lock so that a daemon starting meanwhile cannot bind its
 * socket between the check and the removal; and what an interrupted lock break left.
 */
export async function daemonDebris(dir: string, files: Array<{name: string; ino: number; mtimeMs: number}>, staleMs: number): Promise<DaemonDebris[]> {
  const out: DaemonDebris[] = []
  const same = async (f: {name: string; ino: number}) => (await lstat(join(dir, f.name)).catch(() => undefined))?.ino === f.ino
  const removeIfSame = async (f: {name: string; ino: number}) => {
    if (!(await same(f))) return false
    await rm(join(dir, f.name), {force: true})
    return true
  }
  const locks = new Set(files.filter((f) => f.name.endsWith('.lock')).map((f) => f.name))
  const dead = new Set<string>()
  for (const name of locks) {
    const path = join(dir, name)
    const why = await staleReason(path, staleMs)
    if (!why) continue
    dead.add(name)
    out.push({name, detail: why, remove: async () => Boolean(await breakStaleLock(path, staleMs))})
  }
  for (const f of files) {
    if (/\.lock\.broken\.[0-9a-f]+$/.test(f.name)) {
      if (Date.now() - f.mtimeMs > staleMs) out.push({name: f.name, detail: 'leftover of a broken lock', remove: () => removeIfSame(f)})
      continue
    }
    if (!f.name.endsWith('.sock')) continue
    const lock = f.name.replace(/\.sock$/, '.lock')
    if (locks.has(lock) && !dead.has(lock)) continue
    out.push({name: f.name, detail: 'socket of a daemon that is gone', remove: async () => {
      const held = await acquireLock(join(dir, lock), {waitMs: 0, makeDir: false})
      if (!(held instanceof Lock)) return false
      try {
        return await removeIfSame(f)
      } finally {
        await held.release()
      }
    }})
  }
  return out
}
