/**
 * Named fault points for crash tests: when BURN_FAULT names a point, the process kills itself
 * with SIGKILL there, exactly like an OOM killer or a CI job timeout would. Off by default;
 * the cost when off is one string comparison.
 */
const armed = process.env.BURN_FAULT

/** The labels store/atomic.ts writes under: each write has the points `<label>:tmp-written`, `:tmp-synced`, `:renamed`. */
const WRITES = ['object', 'engines', 'compiled', 'name', 'stats', 'stats-totals', 'store-json']

/**
 * Every fault point, `<writer>:<what just happened>`: the torture harness arms them from this
 * list and a test makes each one fire, so a point that code no longer reaches fails that test.
 */
export const FAULT_POINTS: readonly string[] = [
  // store/lock.ts: any registry, stats, maintenance or daemon lock, created but not yet read back
  'lock:acquired',
  // store/atomic.ts: a tmp file written, fsynced, renamed into place (before its directory's fsync)
  ...WRITES.flatMap((w) => [`${w}:tmp-written`, `${w}:tmp-synced`, `${w}:renamed`]),
  // register/register.ts: compiled in a runner, nothing written; the source written, no compiled form yet
  'register:compiled',
  'register:object-written',
  // store/outcome.ts, in the process that ran the script (a direct run's child, or a run daemon's
  // runner): damage set aside and code cache republished; then counted, the result not yet printed
  'run:settled',
  'run:counted',
  // store/stats/stats.ts, the fold of deltas into totals.json (under the stats lock): the previous
  // fold's deltas removed; one delta folded into the new totals.json removed, the others not yet
  'fold:previous-cleared',
  'fold:delta-removed',
  // maintenance/forget.ts, removing a script (forget, gc's eviction, verify --fix of a damaged
  // source), its registry locks held: locked; names, then compiled forms, then the source gone
  'forget:locked',
  'forget:names-removed',
  'forget:compiled-removed',
  'forget:source-removed',
  // maintenance/repair.ts, a removal of gc or verify --fix under the registry locks, re-checked, before it acts
  'removal:locked',
  // maintenance/gc.ts: after each kind of removal (one point per GcKind), and the eviction plan made
  'gc:tmp',
  'gc:stale-lock',
  'gc:dead-daemon',
  'gc:set-aside',
  'gc:foreign',
  'gc:orphan',
  'gc:dangling-alias',
  'gc:planned',
  // maintenance/evict.ts: one script evicted, the next not yet
  'gc:evicted',
  // maintenance/repair.ts and verify.ts, verify --fix: a file set aside (an engines record: not yet replaced); one repair done
  'repair:set-aside',
  'repair:fixed',
  // run/daemon/server.ts: the daemon's socket listening under its bound name, not yet renamed to the one clients use
  'daemon:listening',
]

export function faultPoint(name: string): void {
  if (armed === undefined) return
  if (armed === name) process.kill(process.pid, 'SIGKILL')
  // `<point>:throw` raises an unexpected error there instead: how tests reach exit 1 (a bug).
  if (armed === `${name}:throw`) throw new Error(`injected internal error at ${name}`)
  // `<point>:stop` stops the process there (SIGSTOP) until a test has raced it and sends SIGCONT.
  if (armed === `${name}:stop`) process.kill(process.pid, 'SIGSTOP')
}

/**
 * Fault injection at writes (a full disk). BURN_FAULT_ENOSPC=1 arms every write of a store file,
 * a lock file and a batch `--output`; a comma-separated list arms only the writes of those labels
 * (writeAtomic's labels such as `object`, `compiled`, `name`, `engines`, `stats`; `lock`;
 * `output`). An armed write puts down the first half of its `length` bytes (`after`) and then
 * fails with `error`, as a disk that fills up mid-write does: the partial file is real, so its
 * clean-up is what the tests check, not an error thrown before any I/O.
 */
export function injectedWriteError(label: string, length: number): {after: number; error: NodeJS.ErrnoException} | undefined {
  const armed = process.env.BURN_FAULT_ENOSPC
  if (armed === undefined || (armed !== '1' && !armed.split(',').includes(label))) return undefined
  const error = new Error('ENOSPC: no space left on device (injected by BURN_FAULT_ENOSPC)') as NodeJS.ErrnoException
  error.code = 'ENOSPC'
  return {after: Math.floor(length / 2), error}
}
