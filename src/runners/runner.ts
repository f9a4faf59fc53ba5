import type {ChildProcess} from 'node:child_process'
import {childProcess} from '../util/builtins.js'
import type {Socket} from 'node:net'
import {fileURLToPath} from 'node:url'
import {ChannelReader, encodeJob} from './call-channel.js'
import {withRunnerRole} from './runner-env.js'
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
 * A supervised runner process taking jobs over IPC (register's compiles, batch's chunks) or over
 * its call channel (the API's warm pool: call-channel.ts).
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
  /** It answered its last job (a `last` result) and is exiting. */
  private ending = false
  /** The call channel (call-channel.ts), for runners made with `calls`: every job and answer goes through it. */
  private readonly channel?: Socket
  private channelClosed = true
  private queue: Array<{job: Job; resolve: (r: JobResult) => void}> = []
  private outbox: Job[] = []
  private outBytes: Buffer[] = []
  private watchdog?: Watchdog
  /** Resolves when the process has exited (its memory is released). */
  readonly exited: Promise<void>

  /**
   * `lean`: for many small jobs in a row (batch chunks), see lean-runner.ts. `calls`: jobs and
   * answers travel over a call channel instead of node's IPC (the API's warm pool: call-channel.ts).
   * `fewCalls`: the runner makes a few jobs and ends (register's compiles: wasm-flags.ts).
   */
  constructor(engine: 'v8' | 'quickjs' = 'v8', opts: {lean?: boolean; calls?: boolean; fewCalls?: boolean} = {}) {
    let exited!: () => void
    this.exited = new Promise<void>((res) => (exited = res))
    const base = {execArgv: process.execArgv, env: withRunnerRole(process.env, {engine, calls: opts.calls, fewCalls: opts.fewCalls})}
    // A runner makes no TLS connection (a script has no network: README, "Script contract"; the
    // remote cache is burn's, never a runner's), so node's extra CA file is not passed on: node
    // parses NODE_EXTRA_CA_CERTS at every start, ~40 ms of CPU per runner for a system bundle.
    delete base.env.NODE_EXTRA_CA_CERTS
    const {execArgv, env} = opts.lean ? leanRunner(base.execArgv, base.env) : base
    this.child = childProcess().fork(RUNNER_MAIN, [], {
      serialization: 'advanced',
      // the runner's stdout and stderr both go to burn's stderr: burn's stdout carries results only
      // (fd 4: the call channel, when asked for; node's IPC then only tells the runner's end)
      stdio: opts.calls ? ['ignore', 2, 2, 'ipc', 'pipe'] : ['ignore', 2, 2, 'ipc'],
      env,
      // (fork runs execPath with execArgv before the module: setpriv's arguments, then node's)
      ...tiedNode(execArgv),
    })
    this.child.on('message', (r: JobResult) => this.settleHead(r))
    if (opts.calls) {
      const channel = (this.channel = this.child.stdio[4] as Socket)
      this.channelClosed = false
      const reader = new ChannelReader<JobResult>()
      const settle = (r: JobResult) => this.settleHead(r)
      let broken = false
      channel.on('data', (d: Buffer) => {
        if (broken) return
        try {
          reader.push(d, settle)
        } catch {
          // bytes that are no frame of ours: nothing more it says is read, and it gets no other job
          broken = this.ending = true
          this.child.kill('SIGKILL')
        }
      })
      channel.on('error', () => {})
      // (every answer the runner wrote is read before 'close': none is blamed on its death)
      channel.on('close', () => {
        this.channelClosed = true
        this.afterDeath()
      })
    }
    // Every answer the runner sent arrives before 'disconnect' (IPC) or its channel's 'close' (both
    // are read to their end), so waiting for them never blames the death on a job whose answer is in flight.
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

  /** false once it died, or said it ends (`last`): the pool gives it no more jobs. */
  get alive(): boolean {
    return !this.dead && !this.ending
  }

  /** Jobs sent and not answered yet. */
  get pending(): number {
    return this.queue.length
  }

  /** The watchdog follows the job at the head of the queue; one kept for the runner's life, armed while jobs are queued. */
  private armHead(): void {
    const head = this.queue[0]
    if (!head || this.dead || this.ending) return this.watchdog?.disarm()
    if (this.watchdog) this.watchdog.next(head.job.limits)
    else (this.watchdog = new Watchdog(this.child, head.job.limits)).arm()
  }

  private settleHead(r: JobResult): void {
    // After a `last` answer nothing more from this runner is an answer to a queued job.
    if (this.ending) return
    // A last answer, or one that came after the watchdog's kill was sent (the job finished just in
    // time): the runner is going, and the jobs behind never started (afterDeath: NOT_STARTED).
    if ((!r.ok && r.last) || this.watchdog?.breach) this.ending = true
    this.queue.shift()?.resolve(r)
    this.armHead()
  }

  private afterDeath(): void {
    if (!this.exit || !this.disconnected || !this.channelClosed) return
    const {code, signal} = this.exit
    const b = this.watchdog?.deathBreach(code, signal)
    const rest = this.queue
    this.queue = []
    // (after a `last` answer every job left is one the runner never started: another runner takes it)
    const head = this.ending ? undefined : rest.shift()
    head?.resolve(
      b
        ? {ok: false, error: {kind: 'limit', ...b}}
        : {ok: false, error: {kind: 'internal', message: `the runner process exited unexpectedly (code ${code}, signal ${signal})`}},
    )
    for (const q of rest) q.resolve(NOT_STARTED)
  }

  exec(job: Job): Promise<JobResult> {
    if (this.dead || this.ending) return Promise.resolve(NOT_STARTED)
    return new Promise<JobResult>((resolve) => {
      this.queue.push({job, resolve})
      if (this.queue.length === 1) this.armHead()
      if (this.channel) {
        this.outBytes.push(encodeJob(job))
        // (after this turn's promise reactions, not the first of them: the calls they make go along)
        if (this.outBytes.length === 1) setImmediate(() => this.flushChannel())
        return
      }
      this.outbox.push(job)
      if (this.outbox.length === 1) queueMicrotask(() => this.flush())
    })
  }

  /** The jobs given in one tick, in one write. */
  private flushChannel(): void {
    const bytes = this.outBytes
    this.outBytes = []
    if (!this.dead && !this.ending && bytes.length > 0) this.channel!.write(bytes.length === 1 ? bytes[0] : Buffer.concat(bytes))
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
