import {readdirSync, readFileSync} from 'node:fs'

/*
 * The processes of one store, read from /proc (Linux): how the torture harness and the fault
 * point test find a process stopped at a fault point (`<point>:stop` makes it SIGSTOP itself)
 * and kill it there, inside the store work the point names. Only processes whose environment
 * holds BURN_CACHE_DIR=<that store> are ever returned, so nothing else on the machine (another
 * test's burn, a shell) is signalled.
 */
export interface StoreProc {
  pid: number
  /** /proc/<pid>/stat's state: 'T' stopped (by SIGSTOP), 'S', 'R', 'Z', ... */
  state: string
  /** The process's BURN_FAULT (undefined: none). */
  fault?: string
  /** A run daemon's runner (run/child.ts --pooled), a run daemon itself, or anything else (a client, its children). */
  kind: 'pooled' | 'daemon' | 'other'
}

function procState(pid: string): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // (the command name, in parentheses, may hold spaces)
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  } catch {
    return undefined
  }
}

function readZeroList(path: string): string[] | undefined {
  try {
    return readFileSync(path, 'utf8').split('\0')
  } catch {
    return undefined
  }
}

/** What a process is, read once: its environment and command line do not change (undefined: not of the store). */
type Identity = Omit<StoreProc, 'state'> | undefined

function identify(pid: string, cache: string): Identity {
  const env = readZeroList(`/proc/${pid}/environ`)
  if (!env?.includes(`BURN_CACHE_DIR=${cache}`)) return undefined
  const argv = readZeroList(`/proc/${pid}/cmdline`) ?? []
  const fault = env.find((e) => e.startsWith('BURN_FAULT='))?.slice('BURN_FAULT='.length)
  const kind = argv.includes('--pooled') ? 'pooled' : argv.some((a) => /[\\/]fast[\\/]daemon\.js$/.test(a)) ? 'daemon' : 'other'
  return {pid: Number(pid), fault, kind}
}

/**
 * The processes of the store at `cache`, identified once a second (a sweep every few
 * milliseconds then reads /proc's directory, new processes and the state of the store's own).
 */
export class StoreProcs {
  private readonly known = new Map<string, Identity>()
  private since = Date.now()
  constructor(readonly cache: string) {}

  /** `states`: only those in these states. */
  list(states?: string): StoreProc[] {
    const out: StoreProc[] = []
    const seen = new Set<string>()
    // All read again every second: between fork and exec a process shows its parent's
    // environment and command line, and may have been taken for what it was not.
    if (Date.now() - this.since > 1000) {
      this.known.clear()
      this.since = Date.now()
    }
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
      seen.add(pid)
      if (!this.known.has(pid)) this.known.set(pid, identify(pid, this.cache))
      const id = this.known.get(pid)
      if (!id) continue
      const state = procState(pid)
      if (state === undefined || (states !== undefined && !states.includes(state))) continue
      out.push({...id, state})
    }
    // (a pid that went away may come back as another process)
    for (const pid of this.known.keys()) if (!seen.has(pid)) this.known.delete(pid)
    return out
  }
}

/** The processes of the store at `cache` (one sweep; see StoreProcs for many). */
export function storeProcs(cache: string, states?: string): StoreProc[] {
  return new StoreProcs(cache).list(states)
}

/** SIGKILL, ignoring a process that is gone already. */
export function kill9(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL')
    return true
  } catch {
    return false
  }
}

/** Kills every process of the store (its run daemons, their runners, anything left stopped). */
export function killStoreProcs(cache: string): number {
  let n = 0
  for (const p of storeProcs(cache)) if (p.state !== 'Z' && kill9(p.pid)) n++
  return n
}
