import type {JobError, LimitName} from '../../engines/protocol.js'

/*
 * The one table of burn's counters (ccache's statistics table): each counter's id, as written
 * in stats/ and printed by `burn stats --json`, its label in the `burn stats` table, and
 * whether every report shows it, at 0 before anything was counted (`always`). The table's
 * order is the order of `burn stats`. Code that counts builds a CounterDelta, so an id the
 * table does not know fails to compile.
 */
export const COUNTERS = [
  {id: 'register.hits', label: 'register hits', always: true},
  {id: 'register.misses', label: 'register misses (compiled)', always: true},
  {id: 'compiles', label: 'compiles', always: true},
  {id: 'compileFailures', label: 'compile failures', always: true},
  {id: 'compileMs', label: 'time compiling (ms)', always: true},
  {id: 'codeCacheRejections', label: 'code caches V8 rejected', always: true},
  {id: 'hits', label: 'hits (register + run)', always: true},
  {id: 'misses', label: 'misses (register + run)', always: true},
  {id: 'runs.ok', label: 'runs ok', always: true},
  {id: 'runs.script', label: 'runs: script threw', always: true},
  {id: 'runs.badData', label: 'runs: bad data', always: true},
  {id: 'runs.notFound', label: 'runs: script gone meanwhile', always: false},
  // A call the run daemon failed (died, went silent, refused its socket) that ran again directly.
  {id: 'daemon.fallbacks', label: 'run daemon fallbacks (ran directly)', always: false},
  {id: 'batch.rows', label: 'batch rows', always: true},
  // The shared remote cache (store/remote/): shown once a remote was used.
  {id: 'remote.hits', label: 'remote hits (fetched, verified, stored)', always: false},
  {id: 'remote.memoHits', label: 'remote hits: memoized results (run --memo)', always: false},
  {id: 'remote.misses', label: 'remote misses', always: false},
  {id: 'remote.errors', label: 'remote errors (then off for the process)', always: false},
  {id: 'remote.rejected', label: 'remote values rejected (failed a check)', always: false},
  {id: 'remote.skipped', label: "remote lookups skipped (the run daemon's cooldown)", always: false},
  {id: 'remote.published', label: 'remote values published', always: false},
  {id: 'remote.bytesIn', label: 'remote bytes fetched', always: false},
  {id: 'remote.bytesOut', label: 'remote bytes published', always: false},
  // Memoized results (run --memo, --idempotency-key, batch --memo): shown once one was asked.
  {id: 'memo.hits', label: 'memo hits (stored result printed, script not run)', always: false},
  {id: 'memo.misses', label: 'memo misses (script run)', always: false},
  {id: 'memo.stored', label: 'memo results stored', always: false},
  // Counted, printed under their id, after the labelled ones (runs.* among the runs).
  {id: 'codeCacheUpgrades', always: false},
  {id: 'preloadedHits', always: false},
  // a call whose module body the run daemon's runner had run before it came (engines/warm.ts)
  {id: 'warmHits', always: false},
  {id: 'batch.runs', always: false},
  {id: 'batch.rowsOut', always: false},
] as const

/** How one call ended: `ok`, or its engine error's kind (`limit.<limit>` for a limit). */
export type Outcome = 'ok' | Exclude<JobError['kind'], 'limit'> | `limit.${LimitName}`

/** Where calls' outcomes are counted: `burn run` (and register's runs), batch chunks, and calls of the API (src/api/). */
export type OutcomeFamily = 'runs' | 'batch.chunks' | 'api'

export type CounterId = (typeof COUNTERS)[number]['id'] | `${OutcomeFamily}.${Outcome}`

/** Increments to record (stats.ts recordStats): only ids of the table. */
export type CounterDelta = Partial<Record<CounterId, number>>

/** The counters every report shows, at 0 when nothing was counted yet, in table order. */
export const ALWAYS_SHOWN: readonly string[] = COUNTERS.filter((c) => c.always).map((c) => c.id)

const LABELLED: readonly string[] = COUNTERS.filter((c) => 'label' in c).map((c) => c.id)
const LABELS = new Map<string, string>(COUNTERS.flatMap((c) => ('label' in c ? [[c.id, c.label]] : [])))
const LIMIT_PREFIX = 'runs.limit.'

/** A counter's words in the `burn stats` table; a counter without a label prints its id. */
export function counterLabel(id: string): string {
  return LABELS.get(id) ?? (id.startsWith(LIMIT_PREFIX) ? `runs: limit ${id.slice(LIMIT_PREFIX.length)}` : id)
}

/** The order of the `burn stats` table: labelled counters in table order, other runs.* after them, the rest last. */
export function compareCounters(a: string, b: string): number {
  return rank(a) - rank(b) || a.localeCompare(b)
}

function rank(id: string): number {
  const i = LABELLED.indexOf(id)
  if (i >= 0) return i
  return id.startsWith('runs.') ? LABELLED.indexOf('runs.notFound') + 0.5 : LABELLED.length
}
