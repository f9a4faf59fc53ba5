/*
 * The counter oracle: what `burn stats --json` must say, given the operations the harness ran.
 * An operation that finished with exit 0 and ran once counted exactly once; one that was
 * killed, failed, or ran twice (a run daemon's runner that died after counting, then the
 * client's direct rerun) counted between 0 (1 if it finished with exit 0) and the times it ran.
 * The counters checked: runs.ok (burn run), register.hits + register.misses (one per file
 * registered), batch.runs (burn batch).
 */
export interface OpCount {
  counter: 'runs.ok' | 'register' | 'batch.runs'
  /** Finished with exit 0. */
  ok: boolean
  /** Killed, failed, armed with a fault, or ran twice: not known to have counted exactly once. */
  bounded: boolean
  /** May have counted twice. */
  twice?: boolean
}

export interface CounterCheck {
  actual: number
  lo: number
  hi: number
  /** Operations known to count exactly once, and those only within bounds. */
  exactOps: number
  boundedOps: number
}

export interface OracleReport {
  held: boolean
  counters: Record<string, CounterCheck>
  /** How many operations the check covers. */
  ops?: number
}

const actualOf = (id: OpCount['counter'], c: Record<string, number>) =>
  id === 'register' ? (c['register.hits'] ?? 0) + (c['register.misses'] ?? 0) : (c[id] ?? 0)

export function counterOracle(ops: OpCount[], counters: Record<string, number>): OracleReport {
  const out: Record<string, CounterCheck> = {}
  for (const id of ['runs.ok', 'register', 'batch.runs'] as const) {
    const mine = ops.filter((o) => o.counter === id)
    const exact = mine.filter((o) => o.ok && !o.bounded)
    const bounded = mine.filter((o) => !(o.ok && !o.bounded))
    out[id] = {
      actual: actualOf(id, counters),
      lo: exact.length + bounded.filter((o) => o.ok).length,
      hi: exact.length + bounded.reduce((n, o) => n + (o.twice ? 2 : 1), 0),
      exactOps: exact.length,
      boundedOps: bounded.length,
    }
  }
  const held = Object.values(out).every((c) => c.lo <= c.actual && c.actual <= c.hi)
  return {held, counters: out, ops: ops.length}
}
