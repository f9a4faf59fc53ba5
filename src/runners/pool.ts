import type {Job, JobResult} from '../engines/protocol.js'
import {NOT_STARTED, Runner} from './runner.js'
import {residentBytes} from './watchdog.js'

const CLOSED: JobResult = {ok: false, error: {kind: 'internal', message: 'the runner pool is closed'}}

/**
 * Up to `size` runner processes shared by the jobs of one burn command. A runner that died
 * (limit breach, crash) is dropped and replaced on the next job, so its job is reported and
 * never retried silently. With `depth` 2 (batch) each runner gets its next job before the
 * current one ends, so it never waits for a round trip; a job queued behind one that killed
 * its runner never started, and goes to another runner.
 *
 * `lean` (batch): runners tuned for many small jobs in a row, whose memory stays flat however
 * long the batch (lean-runner.ts). `calls` (the API): jobs go over a call channel (call-channel.ts).
 *
 * `recycleGrowthBytes` (batch): a runner whose resident memory grew by more than this since its
 * first job gets no more jobs and ends when its queue is empty; a fresh one starts then (as
 * pm.max_requests in php-fpm or max_requests in gunicorn). It is the backstop for what no GC
 * frees, such as a script's module state that keeps growing: memory stays flat, for one process
 * start per recycle.
 */
export class RunnerPool {
  private runners: Runner[] = []
  private retiring = new Set<Runner>()
  private ending = new Set<Runner>()
  private baselines = new WeakMap<Runner, number>()
  private checked = new WeakMap<Runner, number>()
  private waiters: Array<() => void> = []
  private started = new Set<Runner>()
  private closed = false
  readonly depth: number
  /** Runners retired for their memory growth so far. */
  recycled = 0
  /**
   * Whether a lazy pool may start another runner now that its runners are busy (one is always
   * started when none is alive). batch --memo allows it only while a tenth of the rows it just
   * looked up or more are computed: a runner started mid-run costs a core while it starts, and
   * the jobs it is given wait for it.
   */
  mayGrow: () => boolean = () => true

  constructor(
    readonly size: number,
    private readonly engine: 'v8' | 'quickjs' = 'v8',
    prestart = 0,
    private readonly opts: {
      depth?: number
      recycleGrowthBytes?: number
      lean?: boolean
      calls?: boolean
      lazy?: boolean
      fewCalls?: boolean
    } = {},
  ) {
    this.depth = opts.depth ?? 1
    for (let i = 0; i < Math.min(prestart, size); i++) this.runners.push(this.spawn())
  }

  private spawn(): Runner {
    const r = new Runner(this.engine, {lean: this.opts.lean, calls: this.opts.calls, fewCalls: this.opts.fewCalls})
    this.started.add(r)
    void r.exited.then(() => this.started.delete(r))
    return r
  }

  /** Resolves once every runner this pool started has exited (after close(): none is left behind). */
  async allExited(): Promise<void> {
    await Promise.all([...this.started].map((r) => r.exited))
  }

  /** A runner for the next job now: undefined when closed, 'wait' when every runner is at its depth and none may start. */
  private takeNow(): Runner | undefined | 'wait' {
    if (this.closed) return undefined
    let best: Runner | undefined
    let dead = false
    for (const r of this.runners) {
      if (!r.alive) dead = true
      else if (r.pending < this.depth && (!best || r.pending < best.pending)) best = r
    }
    if (dead) this.runners = this.runners.filter((r) => r.alive)
    // (lazy: another runner only once every runner has `depth` jobs, for work that is mostly not theirs)
    if (best && (best.pending === 0 || this.opts.lazy)) return best
    if (this.runners.length + this.retiring.size < this.size && (this.runners.length === 0 || this.mayGrow())) {
      const r = this.spawn()
      this.runners.push(r)
      return r
    }
    return best ?? 'wait'
  }

  private async take(): Promise<Runner | undefined> {
    for (;;) {
      const r = this.takeNow()
      if (r !== 'wait') return r
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  private wakeOne(): void {
    this.waiters.shift()?.()
  }

  /**
   * Without an await when a runner has room (the API's warm calls, over 10,000 a second: each
   * async frame saved is garbage not made, and GC pauses are what its p99 is made of).
   */
  exec(job: Job, attempt = 0): Promise<JobResult> {
    try {
      const now = this.takeNow()
      if (now === undefined) return Promise.resolve(CLOSED)
      if (now !== 'wait') return this.execOn(now, job, attempt)
      return this.take().then((r) => (r ? this.execOn(r, job, attempt) : CLOSED))
    } catch (error) {
      // (a runner that cannot even start, fork throwing EMFILE say: this job's error, never a throw at its caller)
      return Promise.reject(error)
    }
  }

  private execOn(r: Runner, job: Job, attempt: number): Promise<JobResult> {
    const done = () => {
      this.afterJob(r)
      this.wakeOne()
    }
    return r.exec(job).then(
      (result) => {
        done()
        // a job queued behind one that killed its runner never started: another runner takes it
        return result !== NOT_STARTED || attempt >= 3 ? result : this.exec(job, attempt + 1)
      },
      (error: unknown) => {
        done()
        throw error
      },
    )
  }

  private afterJob(r: Runner): void {
    const limit = this.opts.recycleGrowthBytes
    if (this.retiring.has(r)) {
      // its queue is done (or it died meanwhile): it ends and frees its slot
      if (r.pending === 0) this.retire(r)
      return
    }
    if (limit === undefined || !r.alive || this.closed) return
    // one /proc read per runner every 50 ms at most: tiny chunks finish far more often
    const now = performance.now()
    if (now - (this.checked.get(r) ?? -Infinity) < 50) return
    this.checked.set(r, now)
    const rss = residentBytes(r.child)
    if (rss === undefined) return
    const base = this.baselines.get(r)
    if (base === undefined) this.baselines.set(r, rss)
    else if (rss - base > limit) {
      this.runners = this.runners.filter((x) => x !== r)
      this.recycled++
      this.retiring.add(r)
      if (r.pending === 0) this.retire(r)
    }
  }

  /**
   * The replacement starts once the old runner has exited, not when it is sent SIGKILL (the kill
   * takes a few ms): the two never hold memory at once. Until then the old one still counts
   * against `size`.
   */
  private retire(r: Runner): void {
    if (this.ending.has(r)) return
    this.ending.add(r)
    r.close()
    void r.exited.then(() => {
      this.ending.delete(r)
      this.retiring.delete(r)
      if (this.closed) return
      this.runners.push(this.spawn())
      for (let i = 0; i < this.depth; i++) this.wakeOne()
    })
  }

  close(): void {
    this.closed = true
    // (every runner not yet exited: one that said it ends is in neither list any more)
    for (const r of this.started) r.close()
    this.runners = []
    this.retiring.clear()
    for (const w of this.waiters.splice(0)) w()
  }
}
