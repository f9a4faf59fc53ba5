import type {Job, JobResult} from './protocol.js'
import {NOT_STARTED, Runner} from './runner.js'

const CLOSED: JobResult = {ok: false, error: {kind: 'internal', message: 'the runner pool is closed'}}

/**
 * Up to `size` runner processes shared by the jobs of one burn command. A runner that died
 * (limit breach, crash) is dropped and replaced on the next job, so its job is reported and
 * never retried silently. With `depth` 2 (batch) each runner gets its next job before the
 * current one ends, so it never waits for a round trip; a job queued behind one that killed
 * its runner never started, and goes to another runner.
 */
export class RunnerPool {
  private runners: Runner[] = []
  private waiters: Array<() => void> = []
  private closed = false

  constructor(readonly size: number, private readonly engine: 'v8' | 'quickjs' = 'v8', prestart = 0, readonly depth = 1) {
    for (let i = 0; i < Math.min(prestart, size); i++) this.runners.push(new Runner(this.engine))
  }

  private async take(): Promise<Runner | undefined> {
    for (;;) {
      if (this.closed) return undefined
      this.runners = this.runners.filter((r) => r.alive)
      let best: Runner | undefined
      for (const r of this.runners) if (r.pending < this.depth && (!best || r.pending < best.pending)) best = r
      if (best && best.pending === 0) return best
      if (this.runners.length < this.size) {
        const r = new Runner(this.engine)
        this.runners.push(r)
        return r
      }
      if (best) return best
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  private wakeOne(): void {
    this.waiters.shift()?.()
  }

  async exec(job: Job): Promise<JobResult> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.take()
      if (!r) return CLOSED
      let result: JobResult
      try {
        result = await r.exec(job)
      } finally {
        this.wakeOne()
      }
      if (result !== NOT_STARTED || attempt >= 3) return result
    }
  }

  close(): void {
    this.closed = true
    for (const r of this.runners) r.close()
    this.runners = []
    for (const w of this.waiters.splice(0)) w()
  }
}
