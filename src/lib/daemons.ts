import {readdir, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {ownerAlive, pidAlive, readInfo} from './lock.js'

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
  for (const d of await listDaemons(root)) {
    if (d.running) continue
    for (const ext of ['sock', 'lock']) await rm(join(root, 'daemon', `${d.key}.${ext}`), {force: true})
  }
  return all
}
