import {ALWAYS_SHOWN} from '../store/stats/counters.js'
import {compactStats, readStats, type Counters} from '../store/stats/stats.js'
import type {Store} from '../store/store.js'
import {storeUsage, type StoreUsage} from './disk-usage.js'

export interface StatsReport {
  since: string
  counters: Counters
  derived: {
    /** Every finished `burn run` and batch call, whatever the outcome. */
    runs: number
    /** Runs and batch calls that found a valid code cache (hits minus register hits). */
    runHits: number
    runMisses: number
    /** Average compile time times hits: what the hits would have cost without the cache. */
    estimatedCompileMsSaved: number
  }
  store: StoreUsage
}

export async function statsReport(store: Store, opts: {zero?: boolean} = {}): Promise<StatsReport> {
  if (opts.zero) await compactStats(store.layout, {zero: true})
  else await compactStats(store.layout).catch(() => false)
  const [totals, usage] = await Promise.all([readStats(store.layout), storeUsage(store)])
  const counters: Counters = Object.fromEntries(ALWAYS_SHOWN.map((k) => [k, 0]))
  for (const [k, v] of Object.entries(totals.counters)) counters[k] = v
  const runs = Object.entries(counters)
    .filter(([k]) => k.startsWith('runs.'))
    .reduce((a, [, v]) => a + v, 0)
  const avgCompile = counters.compiles > 0 ? counters.compileMs / counters.compiles : 0
  return {
    since: new Date(totals.since).toISOString(),
    counters,
    derived: {
      runs,
      runHits: counters.hits - counters['register.hits'],
      runMisses: counters.misses - counters['register.misses'],
      estimatedCompileMsSaved: Math.round(avgCompile * counters.hits),
    },
    store: usage,
  }
}
