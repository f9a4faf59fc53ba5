import {fork, type ChildProcess} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import type {Job, JobResult, Limits} from './protocol.js'
import {Watchdog} from './watchdog.js'

const RUNNER_MAIN = fileURLToPath(new URL('./runner-main.js', import.meta.url))

/**
 * A supervised runner process taking jobs over IPC (register's compiles, batch's chunks).
 * A runner that dies, by the watchdog's kill or V8's own out-of-memory abort, yields a limit
 * error for its job; burn's own process is never at risk.
 */
export class Runner {
  readonly child: ChildProcess
  private dead = false
  private pending?: (r: JobResult) => void
  private watchdog?: Watchdog

  constructor(engine: 'v8' | 'quickjs' = 'v8') {
    this.child = fork(RUNNER_MAIN, [], {
      serialization: 'advanced',
      // the runner's stdout and stderr both go to burn's stderr: burn's stdout carries results only
      stdio: ['ignore', 2, 2, 'ipc'],
      execArgv: process.execArgv,
      env: {...process.env, BURN_RUNNER_ENGINE: engine},
    })
    this.child.on('message', (r: JobResult) => this.settle(r))
    this.child.on('exit', (code, signal) => {
      this.dead = true
      const b = this.watchdog?.deathBreach(code, signal)
      this.settle(b
        ? {ok: false, error: {kind: 'limit', ...b}}
        : {ok: false, error: {kind: 'internal', message: `the runner process exited unexpectedly (code ${code}, signal ${signal})`}})
    })
    this.child.on('error', () => {})
  }

  get alive(): boolean {
    return !this.dead
  }

  private settle(r: JobResult): void {
    this.watchdog?.disarm()
    const p = this.pending
    this.pending = undefined
    p?.(r)
  }

  exec(job: Job): Promise<JobResult> {
    if (this.dead) return Promise.resolve({ok: false, error: {kind: 'internal', message: 'the runner process is gone'}})
    return new Promise<JobResult>((resolve) => {
      this.pending = resolve
      this.watchdog = new Watchdog(this.child, job.limits)
      this.watchdog.arm()
      this.child.send(job)
    })
  }

  close(): void {
    if (!this.dead) this.child.kill('SIGKILL')
  }
}

export type {Limits}
