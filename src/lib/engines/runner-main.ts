// Entry point of a runner process: receives jobs over IPC, runs each, replies. It may die (a
// memory bomb, a kill on timeout); the supervisor in runner.ts turns that into a clean error.
import {executeJob} from './execute.js'
import type {Job, JobResult} from './protocol.js'

let busy = false

process.on('message', (job: Job) => {
  busy = true
  executeJob(job).then(
    (result) => reply(result),
    (error: Error) => reply({ok: false, error: {kind: 'internal', message: error?.stack ?? String(error)}}),
  )
})

function reply(result: JobResult) {
  busy = false
  process.send!(result)
}

// A script's timer callback that throws fails the job in flight; the runner is then replaced.
process.on('uncaughtException', (error) => {
  if (busy) {
    const message = `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`
    process.send!({ok: false, error: {kind: 'script', message, stack: (error as Error)?.stack}} satisfies JobResult, () => process.exit(1))
  } else {
    process.exit(1)
  }
})
// A rejection the script left unhandled (not the one it returned) is ignored, as a browser would.
process.on('unhandledRejection', () => {})

// Warm up while the parent is still resolving the script: the runner was forked early.
if (process.env.BURN_RUNNER_ENGINE === 'quickjs') {
  void import('./execute.js').then((e) => e.warmEngine('quickjs'))
} else {
  void import('./v8.js').then(() => import('../hash.js')).then((h) => h.loadXxh64())
}
