import type {JobResult} from '../engines/protocol.js'
import {resultCounters, settleResult} from '../store/outcome.js'
import {recordStats, type Counters} from '../store/stats/stats.js'
import type {Store} from '../store/store.js'

/**
 * Counts every API call's outcome in the store's shared counters (`api.ok`, `api.limit.timeout`,
 * hits and misses, as `burn stats` shows them), written at most once per FLUSH_MS and at
 * close(): one stats file per call would cost more than the call (the API makes over 10,000 a
 * second). A call's result that asks something of the store (a code cache to republish, damage
 * to set aside) is settled at once, as after `burn run`.
 */
const FLUSH_MS = 1000

export class Tally {
  private counters: Counters = {}
  private used: Record<string, number> = {}
  private pending = new Set<Promise<void>>()
  private timer?: NodeJS.Timeout

  constructor(private readonly store: () => Promise<Store | undefined>) {}

  add(store: Store, hash: string, tag: string, result: JobResult): void {
    const c = resultCounters(result, 'api')
    for (const k in c) this.counters[k] = (this.counters[k] ?? 0) + c[k as keyof typeof c]!
    this.used[hash] = Date.now()
    if (result.cache === 'corrupt' || result.cachedData || (!result.ok && result.error.kind === 'sourceDamaged')) {
      this.track(settleResult(store, {hash, tag, result}).catch(() => {}))
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      this.track(this.flush())
    }, FLUSH_MS).unref()
  }

  private track(p: Promise<void>): void {
    this.pending.add(p)
    void p.finally(() => this.pending.delete(p))
  }

  /** Writes what was counted so far (stats(), close()). */
  async flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const counters = this.counters
    const used = this.used
    this.counters = {}
    this.used = {}
    const store = Object.keys(used).length > 0 ? await this.store() : undefined
    if (store) await recordStats(store.layout, {counters, used}).catch(() => {})
  }

  /** Everything settled and written (close()). */
  async end(): Promise<void> {
    await Promise.all(this.pending)
    await this.flush()
  }
}
