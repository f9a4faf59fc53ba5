import {fork, type ChildProcess} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {leanRunner} from './lean-runner.js'
import {tiedNode} from './parent-death.js'
import type {Job, JobResult, Limits} from '../engines/protocol.js'
import {Watchdog} from './watchdog.js'

const RUNNER_MAIN = fileURLToPath(new URL('./runner-main.js', import.meta.url))

/**
 * The answer for a job that was queued behind one that killed its runner: it never started,
 * so the pool may give it to another runner (it is neither lost nor run twice).
 */
export const NOT_STARTED: JobResult = Object.freeze({
  ok: false,
  error: {kind: 'internal', message: 'the runner process ended before this job started'},
}) as JobResult

/**
 * A supervised runner process taking jobs over IPC (register's compiles, batch's chunks).
 * A runner that dies, by the watchdog's kill or V8's own out-of-memory abort, yields a limit
 * error for its job; burn's own process is never at risk.
 * Jobs may be queued: the runner runs them in order, one at a time, and the watchdog follows the
 * job at the head (its deadline and memory baseline start when the previous job's answer
 * arrives, so a queued job is not charged for the wait).
 */
export class Runner {
  readonly child: ChildProcess
  private dead = false
  private exit?: {code: number | null; signal: NodeJS.Signals | null}
  private disconnected = false
  private queue: Array<{job: Job; resolve: (r: JobResult) => void}> = []
  private outbox: Job[] = []
  private watchdog?: Watchdog
  /** Resolves when the process has exited (its memory is released). */
  readonly exited: Promise<void>

  /** `lean`: for many small jobs in a row (batch chunks), see lean-runner.ts. */
  constructor(engine: 'v8' | 'quickjs' = 'v8', opts: {lean?: boolean} = {}) {
    let exited!: () => void
    this.exited = new Promise<void>((res) => (exited = res))
    const base = {execArgv: process.execArgv, env: {...process.env, BURN_RUNNER_ENGINE: engine}}
    const {execArgv, env} = opts.lean ? leanRunner(base.execArgv, base.env) : base
    this.child = fork(RUNNER_MAIN, [], {
      serialization: 'advanced',
      // the runner's stdout and stderr both go to burn's stderr: burn's stdout carries results only
      stdio: ['ignore', 2, 2, 'ipc'],
      env,
      // (fork runs execPath with execArgv before the module: setpriv's arguments, then node's)
      ...tiedNode(execArgv),
    })
    this.child.on('message', (r: JobResult) => this.settleHead(r))
    // Every answer the runner sent arrives before 'disconnect' (the channel is read to its end),
    // so waiting for both events never blames the death on a job whose answer is in flight.
    this.child.on('exit', (code, signal) => {
      exited()
      this.dead = true
      this.exit = {code, signal}
      this.watchdog?.disarm()
      this.afterDeath()
    })
    this.child.on('disconnect', () => {
      this.disconnected = true
      this.afterDeath()
    })
    this.child.on('error', () => {})
  }

  get alive(): boolean {
    return !this.dead
  }

  /** Jobs sent and not answered yet. */
  get pending(): number {
    return this.queue.length
  }

  private armHead(): void {
    const head = this.queue[0]
    if (!head || this.dead) return
    this.watchdog = new Watchdog(this.child, head.job.limits)
    this.watchdog.arm()
  }

  private settleHead(r: JobResult): void {
    this.watchdog?.disarm()
    this.queue.shift()?.resolve(r)
    this.armHead()
  }

  private afterDeath(): void {
    if (!this.exit || !this.disconnected) return
    const {code, signal} = this.exit
    const b = this.watchdog?.deathBreach(code, signal)
    const [head, ...rest] = this.queue
    this.queue = []
    head?.resolve(
      b
        ? {ok: false, error: {kind: 'limit', ...b}}
        : {ok: false, error: {kind: 'internal', message: `the runner process exited unexpectedly (code ${code}, signal ${signal})`}},
    )
    for (const q of rest) q.resolve(NOT_STARTED)
  }

  exec(job: Job): Promise<JobResult> {
    if (this.dead) return Promise.resolve(NOT_STARTED)
    return new Promise<JobResult>((resolve) => {
      this.queue.push({job, resolve})
      if (this.queue.length === 1) this.armHead()
      this.outbox.push(job)
      if (this.outbox.length === 1) queueMicrotask(() => this.flush())
    })
  }

  /**
   * Jobs given in one tick travel as one message (an array): one write instead of one per job.
   * Under load the results of several calls arrive in one read, and the calls they free are sent
   * together (bench/api.mjs: the IPC writes were a quarter of the API's own CPU time).
   */
  private flush(): void {
    const jobs = this.outbox
    this.outbox = []
    if (!this.dead && jobs.length > 0) this.child.send(jobs.length === 1 ? jobs[0] : jobs)
  }

  close(): void {
    if (!this.dead) this.child.kill('SIGKILL')
  }
}

export type {Limits}
