import {readdirSync, readFileSync, rmSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {pidAlive} from './lock.js'

/**
 * The run daemons of a store, as their files in <cache>/daemon show them: `<key>.lock` (held
 * by the daemon: {pid, host, token, created}) and `<key>.sock`. One per environment key
 * (src/cli/daemon/where.ts).
 */
export interface DaemonInfo {
  key: string
  pid?: number
  running: boolean
  listening: boolean
  startedAt?: string
}

export function listDaemons(root: string): DaemonInfo[] {
  const dir = join(root, 'daemon')
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const keys = [...new Set(names.map((n) => n.replace(/\.(lock|sock)$/, '')))].sort()
  return keys.map((key) => {
    let info: {pid?: number; host?: string; created?: number} = {}
    try {
      info = JSON.parse(readFileSync(join(dir, `${key}.lock`), 'utf8'))
    } catch {
      // no lock: a socket left by a daemon that died
    }
    const running = typeof info.pid === 'number' && info.host === hostname() && pidAlive(info.pid)
    return {
      key, pid: info.pid, running, listening: names.includes(`${key}.sock`),
      startedAt: typeof info.created === 'number' ? new Date(info.created).toISOString() : undefined,
    }
  })
}

/** Asks every running daemon to finish its calls and exit (SIGTERM), waits, and clears what dead ones left. */
export async function stopDaemons(root: string, waitMs = 10_000): Promise<DaemonInfo[]> {
  const all = listDaemons(root)
  for (const d of all) if (d.running) process.kill(d.pid!, 'SIGTERM')
  const deadline = Date.now() + waitMs
  while (all.some((d) => d.running && pidAlive(d.pid!)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
  for (const d of listDaemons(root)) {
    if (d.running) continue
    for (const ext of ['sock', 'lock']) rmSync(join(root, 'daemon', `${d.key}.${ext}`), {force: true})
  }
  return all
}
