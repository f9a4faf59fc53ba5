import type {Job, JobResult, Limits, ScriptFiles} from './protocol.js'
import {engineTag, type EngineName} from './tag.js'
import type {Prewarm, WarmInstance} from './warm.js'

export type {Prewarm, WarmInstance}

/** Runs one job in this process: a runner process, or `burn run`'s supervised child. */
export async function executeJob(job: Job): Promise<JobResult> {
  if (engineTag(job.engine) !== job.tag) {
    return {ok: false, error: {kind: 'internal', message: `runner engine tag ${engineTag(job.engine)} differs from ${job.tag}`}}
  }
  // Each engine is imported only when used: a v8 run never loads the QuickJS wasm.
  if (job.engine === 'quickjs') {
    const q = await import('./quickjs/engine.js')
    return job.op === 'compile' ? q.compileQuickjs(job) : q.runQuickjs(job)
  }
  const v8 = await import('./v8.js')
  return job.op === 'compile' ? v8.compileV8(job) : v8.runV8(job)
}

/**
 * Loads what an engine needs before a script's deadline and memory baseline start; with the
 * run's limits, quickjs also makes the run's sandbox ahead.
 */
export async function warmEngine(engine: EngineName, limits?: Limits): Promise<void> {
  const xxh = import('../util/hash.js').then((h) => h.loadXxh64())
  if (engine === 'quickjs') {
    const q = await import('./quickjs/engine.js')
    await (limits ? q.prepareQuickjs(limits) : q.warmQuickjs())
  }
  await xxh
}

/**
 * Starts loading a script a run is expected to ask for next (the run daemon's pooled runners):
 * v8 reads, checks and deserializes it, and with `prewarm` runs its module body (warm.ts);
 * quickjs loads its wasm. A call for another script, or files that changed meanwhile, simply
 * load as usual.
 */
export function preloadJob(files: ScriptFiles, prewarm?: Prewarm): void {
  if (files.engine === 'quickjs') {
    if (!prewarm) void warmEngine('quickjs').catch(() => {})
    else
      void import('./quickjs/engine.js')
        .then((q) => q.preloadQuickjs(files, prewarm))
        .catch(() => prewarm.onBodyEnd('the engine did not load'))
    return
  }
  void import('./v8.js').then((v8) => v8.preloadV8(files, prewarm)).catch(() => prewarm?.onBodyEnd('the engine did not load'))
}

/** The module instance made ahead for this run job, if it may serve it (warm.ts); called before the job's deadline starts. */
export async function claimJob(job: Job): Promise<WarmInstance | undefined> {
  if (job.op !== 'run' || job.rows || engineTag(job.engine) !== job.tag) return undefined
  if (job.engine === 'quickjs') return (await import('./quickjs/engine.js')).claimQuickjs(job)
  return (await import('./v8.js')).claimV8(job)
}

/** A pooled runner's warm-up: burn's own code for a v8 call, run once on a trivial script. */
export async function warmRunner(limits: Limits): Promise<void> {
  const [v8] = await Promise.all([import('./v8.js'), warmEngine('v8')])
  await v8.warmV8(limits)
}
