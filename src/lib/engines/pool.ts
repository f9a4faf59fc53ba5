import type {Job, JobResult} from './protocol.js'
import {Runner} from './runner.js'

/**
 * Up to `size` runner processes shared by the jobs of one burn command. A runner that died
 * (limit breach, crash) is dropped and replaced on the next job, so its job is reported and
 * never retried silently.
 */
export class RunnerPool {
  private idle: Runner[] = []
  private all = new Set<Runner>()
  private waiters: Array<(r: Runner) => void> = []

  constructor(readonly size: number, private readonly engine: 'v8' | 'quickjs' = 'v8', prestart = 0) {
    for (let i = 0; i < Math.min(prestart, size); i++) this.idle.push(this.spawn())
  }

  private spawn(): Runner {
    const r = new Runner(this.engine)
    this.all.add(r)
    return r
  }

  private async take(): Promise<Runner> {
    for (;;) {
      const r = this.idle.pop()
      if (!r) break
      if (r.alive) return r
      this.all.delete(r)
    }
    if (this.all.size < this.size) return this.spawn()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  private give(r: Runner): void {
    if (!r.alive) {
      this.all.delete(r)
      const w = this.waiters.shift()
      if (w) w(this.spawn())
      return
    }
    const w = this.waiters.shift()
    if (w) w(r)
    else this.idle.push(r)
  }

  async exec(job: Job): Promise<JobResult> {
    const r = await this.take()
    try {
      return await r.exec(job)
    } finally {
      this.give(r)
    }
  }

  close(): void {
    for (const r of this.all) r.close()
    this.all.clear()
    this.idle = []
  }
}
