// /proc readings shared by the benchmarks and the tests (plain JS, so a bench needs no build).
import {readdirSync, readFileSync} from 'node:fs'

/** Resident memory of a process and all its descendants, from /proc (Linux). */
export function treeRss(pid) {
  let total = 0
  const seen = new Set()
  const visit = (p) => {
    if (seen.has(p)) return
    seen.add(p)
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'latin1'))
      if (m) total += Number(m[1]) * 1024
      for (const t of readdirSync(`/proc/${p}/task`)) {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'latin1').trim().split(/\s+/)) if (c) visit(Number(c))
      }
    } catch {
      // the process ended while it was being read: it holds no memory any more
    }
  }
  visit(pid)
  return total
}
