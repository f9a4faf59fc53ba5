import {availableParallelism} from 'node:os'
import {describeError} from '../util/errors.js'
import {eachConcurrently} from '../util/each-concurrently.js'
import {RunnerPool} from '../runners/pool.js'
import type {Limits} from '../engines/protocol.js'
import type {EngineName} from '../engines/tag.js'
import {registerSource, type RegisterCounters, type RegisterOutcome} from './register.js'
import type {SourceInput} from './sources.js'
import type {CounterDelta} from '../store/stats/counters.js'
import {recordStats} from '../store/stats/stats.js'
import type {Store} from '../store/store.js'
import type {RemoteFlags} from '../store/remote/config.js'
import {registerRemote} from '../store/remote/lookup.js'

export interface RegisterFailure {
  file: string
  code: number
  kind: string
  message: string
}

export type RegisterItem = {ok: true; outcome: RegisterOutcome} | {ok: false; failure: RegisterFailure}

/**
 * Registers many sources with a pool of runner processes (one per CPU): a CI warm-up of
 * thousands of scripts pays process startup once per runner, not once per script. One file's
 * failure does not stop the others; results come back in argument order.
 */
export async function registerMany(
  store: Store,
  inputs: SourceInput[],
  /** engine undefined: --engine not given (trust.ts registerEngine decides per script). */
  opts: {name?: string; engine?: EngineName; limits: Limits; concurrency?: number; remote?: RemoteFlags},
  onDone?: (item: RegisterItem, done: number) => void,
): Promise<RegisterItem[]> {
  const size = Math.max(1, Math.min(opts.concurrency ?? availableParallelism(), inputs.length))
  const pool = new RunnerPool(size, opts.engine ?? 'v8', 0, {fewCalls: true})
  const counters: RegisterCounters = {hits: 0, misses: 0, compiles: 0, compileFailures: 0, compileMs: 0}
  const items: RegisterItem[] = new Array(inputs.length)
  // A local miss asks the shared remote cache for its compiled form before compiling it.
  const remote = registerRemote(opts.remote)
  let done = 0
  const one = async (input: SourceInput, i: number) => {
    try {
      const source = await input.read()
      const outcome = await registerSource(
        store,
        pool,
        {source, file: input.file, name: opts.name, engine: opts.engine, limits: opts.limits, fetchCompiled: remote.compiled},
        counters,
      )
      items[i] = {ok: true, outcome}
    } catch (error) {
      const d = describeError(error)
      items[i] = {ok: false, failure: {file: input.file, code: d.exit, kind: d.kind, message: d.message}}
    }
    onDone?.(items[i], ++done)
  }
  try {
    // two calls per runner: the pool queues each runner's next compile behind its current one
    await eachConcurrently(inputs, size * 2, one)
  } finally {
    pool.close()
    const used: Record<string, number> = {}
    for (const it of items) if (it?.ok) used[it.outcome.hash] = Date.now()
    // (and its runners have exited: a library caller's register leaves no process behind)
    await Promise.all([recordStats(store.layout, {counters: registerDelta(counters), used}).catch(() => {}), pool.allExited()])
  }
  // What was stored goes to the shared remote cache too (read-write mode; nothing without one).
  const stored = items.flatMap((it) => (it?.ok ? [{hash: it.outcome.hash, names: it.outcome.name ? [it.outcome.name] : []}] : []))
  await remote.finish(store, stored)
  return items
}

/** A register's hits and misses count twice: as register's own and in the totals runs share. */
function registerDelta(c: RegisterCounters): CounterDelta {
  return {
    hits: c.hits,
    misses: c.misses,
    'register.hits': c.hits,
    'register.misses': c.misses,
    compiles: c.compiles,
    compileFailures: c.compileFailures,
    compileMs: Math.round(c.compileMs),
  }
}
