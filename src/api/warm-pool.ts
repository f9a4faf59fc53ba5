import type {Job, JobResult} from '../engines/protocol.js'
import type {EngineName} from '../engines/tag.js'
import {RunnerPool} from '../runners/pool.js'
import {BurnError} from '../util/errors.js'
import type {Isolation} from './types.js'

export interface WarmPoolOptions {
  /** Runner processes per engine. */
  concurrency: number
  isolation: Isolation
  /** Calls admitted at once (waiting for a runner or running). */
  maxInFlight: number
  /** Module instances a runner keeps (LRU). */
  keepScripts: number
  /** A runner that grew by more than this is replaced (RunnerPool's recycleGrowthBytes). */
  growthBytes: number
}

/**
 * Calls sent to one runner before its current one ends: the next calls' round trips overlap the
 * current call, so a runner is never idle while calls wait, and calls freed together travel
 * together (runner.ts). bench/api.mjs, 64 in flight on 2 runners over the call channel (session
 * 14, three runs each, the 2-core machine): depth 8 40,528-45,191 calls/s with p99 3.93-4.45 ms,
 * 12 43,409-46,537 with 4.56-4.74, 16 45,389-47,198 with 4.66-4.97, 32 41,761-47,656 with
 * 4.73-4.91; depth 4 made 30,411-35,661. (Over node's IPC, session 11, depth 16 had been best.)
 * The watchdog follows the call at the head, so a call queued behind another is not charged for
 * the wait; calls queued behind one that killed its runner never started and go to another
 * runner (RunnerPool).
 */
export const DEPTH = 8

export const closedError = () =>
  new BurnError('usage', 'the cache is closed: no call runs after close(); open another with openCache()', {closed: true})

interface Waiting {
  job: Extract<Job, {op: 'run'}>
  resolve: (r: JobResult | Promise<JobResult>) => void
}

/**
 * The runners behind the API, one lane per engine. Admission control first (fsqlite's
 * bulkhead): at most `maxInFlight` calls are admitted, one more is refused at once; admitted
 * calls wait here until a runner has room (DEPTH calls queued in each), so close() can refuse
 * every call not given to a runner and let every one given finish. A call whose runner died
 * (a limit breach, a kill) gets that error; RunnerPool replaces the runner for the next call.
 */
export class WarmPool {
  private readonly lanes = new Map<EngineName, Lane>()
  private admitted = 0
  private closing?: Promise<void>

  constructor(private readonly opts: WarmPoolOptions) {}

  get closed(): boolean {
    return this.closing !== undefined
  }

  /**
   * Admits one call, at once or never: throws when closed or full. The call releases its place
   * once it settled, however; it is admitted before its script is resolved, so calls are
   * admitted in the order they are made.
   */
  admit(): () => void {
    if (this.closing) throw closedError()
    if (this.admitted >= this.opts.maxInFlight) throw fullError(this.opts.maxInFlight)
    this.admitted++
    let released = false
    return () => {
      if (!released) this.admitted--
      released = true
    }
  }

  /** Runs an admitted call; one close() refused before it started rejects with closedError(). */
  exec(job: Extract<Job, {op: 'run'}>): Promise<JobResult> {
    if (this.closing) return Promise.reject(closedError())
    // (every caller makes the job for this one call: the keep count goes on it, not on a copy)
    const warm = this.opts.isolation === 'instance' ? Object.assign(job, {keep: this.opts.keepScripts}) : job
    return this.lane(job.engine).exec(warm).then(unlessClosed)
  }

  private lane(engine: EngineName): Lane {
    let lane = this.lanes.get(engine)
    if (!lane) this.lanes.set(engine, (lane = new Lane(engine, this.opts)))
    return lane
  }

  close(): Promise<void> {
    this.closing ??= Promise.all([...this.lanes.values()].map((l) => l.close())).then(() => {})
    return this.closing
  }
}

function unlessClosed(r: JobResult): JobResult {
  if (r === CLOSED) throw closedError()
  return r
}

function fullError(max: number): BurnError {
  return new BurnError(
    'limit',
    `too many calls in flight: ${max} already wait or run (maxInFlight); await some of them before making more`,
    {limit: 'in-flight', maxInFlight: max},
  )
}

/** One engine's runners and the calls waiting for them. */
class Lane {
  private readonly pool?: RunnerPool
  private readonly waiting: Waiting[] = []
  /** Calls started and not settled (a count, not a set: a warm call allocates as little as it can). */
  private running = 0
  private drained?: () => void
  private readonly capacity: number
  private closed = false

  constructor(
    private readonly engine: EngineName,
    opts: WarmPoolOptions,
  ) {
    const warm = opts.isolation === 'instance'
    this.capacity = opts.concurrency * (warm ? DEPTH : 1)
    if (warm) this.pool = new RunnerPool(opts.concurrency, engine, 0, {depth: DEPTH, recycleGrowthBytes: opts.growthBytes, calls: true})
  }

  exec(job: Extract<Job, {op: 'run'}>): Promise<JobResult> {
    if (!this.closed && this.running < this.capacity && this.waiting.length === 0) return this.run(job)
    return new Promise<JobResult>((resolve) => {
      this.waiting.push({job, resolve})
      this.pump()
    })
  }

  private pump(): void {
    while (!this.closed && this.running < this.capacity && this.waiting.length > 0) {
      const {job, resolve} = this.waiting.shift()!
      resolve(this.run(job))
    }
  }

  private run(job: Job): Promise<JobResult> {
    this.running++
    return (this.pool ? this.pool.exec(job) : this.once(job)).then(this.settled, this.failed)
  }

  private readonly settled = (r: JobResult): JobResult => {
    this.running--
    if (this.running === 0) this.drained?.()
    this.pump()
    return r
  }

  private readonly failed = (error: unknown): never => {
    this.settled(CLOSED)
    throw error
  }

  /** isolation 'call': a fresh runner for this call alone, gone before the call settles. */
  private async once(job: Job): Promise<JobResult> {
    const once = new RunnerPool(1, this.engine)
    try {
      return await once.exec(job)
    } finally {
      once.close()
      await once.allExited()
    }
  }

  /** Calls not started are answered "closed" (by exec's caller, from `ok: false` below); started ones finish. */
  async close(): Promise<void> {
    this.closed = true
    for (const w of this.waiting.splice(0)) w.resolve(CLOSED)
    if (this.running > 0) await new Promise<void>((resolve) => (this.drained = resolve))
    this.pool?.close()
    await this.pool?.allExited()
  }
}

/** The answer of a call close() refused before it started: exec's caller turns it into closedError(). */
export const CLOSED: JobResult = Object.freeze({ok: false, error: {kind: 'internal', message: 'closed'}}) as JobResult
