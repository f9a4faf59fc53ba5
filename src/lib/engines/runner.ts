import {fork, type ChildProcess} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import type {Job, JobResult, LimitName, Limits} from './protocol.js'

const RUNNER_MAIN = fileURLToPath(new URL('./runner-main.js', import.meta.url))
const PAGE = 4096
const WATCH_MS = 5

/*
 * A supervised runner process. The parent enforces what the runner cannot enforce on itself:
 * the deadline (a kill covers sync loops, promise loops and promises that never settle) and
 * resident memory (polled from /proc, so ArrayBuffers and Buffers that V8's heap limit does
 * not count are caught too). A runner that dies, by our kill or V8's own out-of-memory abort,
 * yields a limit error; burn's own process is never at risk.
 */
export class Runner {
  readonly child: ChildProcess
  private dead = false
  private exitInfo?: {code: number | null; signal: NodeJS.Signals | null}
  private pending?: (r: JobResult) => void
  private breach?: {limit: LimitName; message: string}

  constructor(engine: 'v8' | 'quickjs' = 'v8') {
    this.child = fork(RUNNER_MAIN, [], {
      serialization: 'advanced',
      // the runner's stdout and stderr both go to burn's stderr: burn's stdout carries results only
      stdio: ['ignore', 2, 2, 'ipc'],
      execArgv: process.execArgv,
      env: {...process.env, BURN_RUNNER_ENGINE: engine},
    })
    this.child.on('message', (r: JobResult) => {
      const p = this.pending
      this.pending = undefined
      p?.(r)
    })
    this.child.on('exit', (code, signal) => {
      this.dead = true
      this.exitInfo = {code, signal}
      const p = this.pending
      this.pending = undefined
      p?.(this.deathResult())
    })
    this.child.on('error', () => {})
  }

  get alive(): boolean {
    return !this.dead
  }

  private deathResult(): JobResult {
    if (this.breach) return {ok: false, error: {kind: 'limit', ...this.breach}}
    const {code, signal} = this.exitInfo ?? {code: null, signal: null}
    // V8 aborts the process when its heap limit is reached (FATAL ERROR: Reached heap limit).
    if (signal === 'SIGABRT' || signal === 'SIGTRAP' || code === 134 || code === 133) {
      return {ok: false, error: {kind: 'limit', limit: 'memory', message: 'memory limit exceeded: the script exhausted the V8 heap'}}
    }
    if (signal === 'SIGKILL') {
      return {ok: false, error: {kind: 'limit', limit: 'memory', message: 'memory limit exceeded: the runner was killed by the system (out of memory)'}}
    }
    return {ok: false, error: {kind: 'internal', message: `the runner process exited unexpectedly (code ${code}, signal ${signal})`}}
  }

  exec(job: Job): Promise<JobResult> {
    if (this.dead) return Promise.resolve(this.deathResult())
    const {limits} = job
    return new Promise<JobResult>((resolve) => {
      let baseline: number | undefined
      const stop = (limit: LimitName, message: string) => {
        if (this.breach || this.dead) return
        this.breach = {limit, message}
        this.child.kill('SIGKILL')
      }
      const timer = setTimeout(() => stop('timeout', `timeout: the script ran longer than --timeout ${limits.timeoutMs} ms`), limits.timeoutMs)
      const watch = setInterval(() => {
        const rss = residentBytes(this.child.pid)
        if (rss === undefined) return
        baseline ??= rss
        if (rss - baseline > limits.memoryBytes) {
          stop('memory', `memory limit exceeded: the runner grew by ${rss - baseline} bytes, over --memory ${limits.memoryBytes} bytes`)
        }
      }, WATCH_MS)
      baseline = residentBytes(this.child.pid)
      this.pending = (r) => {
        clearTimeout(timer)
        clearInterval(watch)
        resolve(r)
      }
      this.child.send(job)
    })
  }

  close(): void {
    if (!this.dead) this.child.kill('SIGKILL')
  }
}

function residentBytes(pid: number | undefined): number | undefined {
  if (pid === undefined || process.platform !== 'linux') return undefined
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'latin1')
    return Number(statm.split(' ')[1]) * PAGE
  } catch {
    return undefined
  }
}

export type {Limits}
