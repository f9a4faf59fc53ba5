import {setAside} from './damaged.js'
import {republishCompiled} from './compiled.js'
import {notFoundError} from '../util/errors.js'
import {engineError} from '../engines/engine-error.js'
import type {Job, JobError, JobResult, Limits} from '../engines/protocol.js'
import {engineTag, type EngineName} from '../engines/tag.js'
import type {CounterDelta, Outcome, OutcomeFamily} from './stats/counters.js'
import {recordStats} from './stats/stats.js'
import {faultPoint} from '../util/faults.js'
import {checkScriptDirs, type Store} from './store.js'

export interface RunOutcome {
  hash: string
  output: string
  cache: string
}

/**
 * Runs a registered script once, on the engine trust.ts runTarget chose for it; `exec` runs the
 * job (in this process or a runner).
 */
export async function runScript(
  store: Store,
  exec: (job: Job) => Promise<JobResult>,
  opts: {hash: string; input: string; engine: EngineName; limits: Limits; clock?: number},
): Promise<RunOutcome> {
  const {hash} = opts
  const {layout} = store
  const tag = engineTag(opts.engine)
  checkScriptDirs(layout, hash, [tag])
  let result: JobResult
  try {
    result = await exec({
      op: 'run',
      engine: opts.engine,
      tag,
      hash,
      sourcePath: layout.object(hash),
      compiledPath: layout.compiled(tag, hash),
      input: opts.input,
      limits: opts.limits,
      ...(opts.clock !== undefined ? {clock: opts.clock} : {}),
    })
  } catch (error) {
    // forget or gc removed the script between lookup and read: a clean miss, never a wrong result
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw notFoundError(`script ${hash} was removed while it was being run; register it again`, {hash})
    throw error
  }
  await afterRun(store, {hash, tag, result})
  if (!result.ok) throw engineError(result.error, {hash})
  return {hash, output: result.output ?? 'null', cache: result.cache}
}

/** A run's bookkeeping: settle the result (set aside damage, republish), count it, mark the use. */
async function afterRun(store: Store, r: {hash: string; tag: string; result: JobResult}): Promise<void> {
  await settleResult(store, r)
  faultPoint('run:settled')
  await recordStats(store.layout, {counters: resultCounters(r.result), used: {[r.hash]: Date.now()}}).catch(() => {})
  faultPoint('run:counted')
}

/** What one call's result does to the store: damage is set aside, a code cache made on a miss is republished. */
export async function settleResult(store: Store, r: {hash: string; tag: string; result: JobResult}): Promise<void> {
  const {layout} = store
  const {result, hash, tag} = r
  if (result.cache === 'corrupt') await setAside(layout, layout.compiled(tag, hash), 'compiled')
  if (!result.ok && result.error.kind === 'sourceDamaged') await setAside(layout, layout.object(hash), 'object')
  // An empty payload is publishable too: it is quickjs's "validated" marker (no bytecode cache).
  if (result.cachedData) {
    await republishCompiled(layout, tag, hash, layout.object(hash), result.cachedData).catch(() => false)
  }
}

/**
 * The counters of one call's result: the store hit or miss (none when the runner reused a
 * script it had loaded), a compile, and `<outcomes>.ok` or `<outcomes>.<error kind>`.
 */
export function resultCounters(result: JobResult, outcomes: OutcomeFamily = 'runs'): CounterDelta {
  const c: CounterDelta = {}
  if (result.cache === 'hit') {
    c.hits = 1
    if (result.cachedData) c.codeCacheUpgrades = 1
    if (result.ok && result.preloaded) c.preloadedHits = 1
  } else if (result.cache && result.cache !== 'none') {
    c.misses = 1
    if (result.cache === 'rejected') c.codeCacheRejections = 1
    if (result.cachedData) {
      c.compiles = 1
      c.compileMs = Math.round(result.compileMs ?? 0)
    }
  }
  if (result.ok && result.warm) c.warmHits = 1
  c[`${outcomes}.${result.ok ? 'ok' : outcomeName(result.error)}`] = 1
  return c
}

function outcomeName(e: JobError): Outcome {
  if (e.kind === 'limit') return `limit.${e.limit}`
  return e.kind
}

/** Kept for batch/chunk-error.ts until it calls engineError (engines/engine-error.ts) itself. */
