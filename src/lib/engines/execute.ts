import type {Job, JobResult} from './protocol.js'
import {engineTag} from './tag.js'

/** Runs one job in this process: a runner process, or `burn run`'s supervised child. */
export async function executeJob(job: Job): Promise<JobResult> {
  if (job.engine === 'quickjs') {
    return {ok: false, error: {kind: 'internal', message: 'quickjs engine: coming in the limits issue'}}
  }
  if (engineTag('v8') !== job.tag) {
    return {ok: false, error: {kind: 'internal', message: `runner engine tag ${engineTag('v8')} differs from ${job.tag}`}}
  }
  const v8 = await import('./v8.js')
  return job.op === 'compile' ? v8.compileV8(job) : v8.runV8(job)
}
