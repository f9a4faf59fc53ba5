import type {Job, JobResult} from './protocol.js'
import {engineTag, type EngineName} from './tag.js'

/** Runs one job in this process: a runner process, or `burn run`'s supervised child. */
export async function executeJob(job: Job): Promise<JobResult> {
  if (engineTag(job.engine) !== job.tag) {
    return {ok: false, error: {kind: 'internal', message: `runner engine tag ${engineTag(job.engine)} differs from ${job.tag}`}}
  }
  // Each engine is imported only when used: a v8 run never loads the QuickJS wasm.
  if (job.engine === 'quickjs') {
    const q = await import('./quickjs.js')
    return job.op === 'compile' ? q.compileQuickjs(job) : q.runQuickjs(job)
  }
  const v8 = await import('./v8.js')
  return job.op === 'compile' ? v8.compileV8(job) : v8.runV8(job)
}

/** Loads what an engine needs before a script's deadline and memory baseline start. */
export async function warmEngine(engine: EngineName): Promise<void> {
  if (engine === 'quickjs') await (await import('./quickjs.js')).warmQuickjs()
}
