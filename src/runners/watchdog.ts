import type {ChildProcess} from 'node:child_process'
import {closeSync, openSync, readSync} from 'node:fs'
import type {LimitName, Limits} from '../engines/protocol.js'
import {memoryExceededMessage} from '../engines/script-errors.js'

const PAGE = 4096
const WATCH_MS = 5
/**
 * On quickjs the script's memory is the wasm heap, capped inside the sandbox (quickjs/sandbox.ts):
 * a deterministic limit. The process around it grows too, by amounts the script does not decide
 * (V8 tiering QuickJS's wasm up in the background: tens of MB, sooner or later with the machine's
 * load), so resident memory is only a backstop there, this much above --memory. Without the
 * slack, a script that fits under a limit could fail under a larger one on a busy machine.
 */
export const QUICKJS_HOST_SLACK_BYTES = 64 * 1024 * 1024

export interface Breach {
  limit: LimitName
  message: string
}

/**
 * Enforces from outside what a script's process cannot enforce on itself: the deadline (a
 * SIGKILL stops sync loops, promise loops and promises that never settle alike) and resident
 * memory (polled from /proc, so Buffers and ArrayBuffers that V8's heap limit does not count
 * are caught too). `arm()` starts both, so process startup is not charged to the script.
 */
export class Watchdog {
  breach?: Breach
  private timer?: NodeJS.Timeout
  private poll?: NodeJS.Timeout
  private baseline = 0

  constructor(
    private readonly child: ChildProcess,
    private limits: Pick<Limits, 'timeoutMs' | 'memoryBytes'>,
  ) {}

  /**
   * `slackBytes`: resident memory allowed above --memory (QUICKJS_HOST_SLACK_BYTES on quickjs).
   * `ahead`: the script started earlier, its module body run ahead of the call (engines/warm.ts):
   * the deadline is what that body left of it, the baseline the memory from before it.
   */
  arm(slackBytes = 0, ahead?: {bodyMs: number; baselineBytes: number}): void {
    this.disarm()
    const {timeoutMs} = this.limits
    const memoryBytes = this.limits.memoryBytes + slackBytes
    // setTimeout fires at once for delays past 2^31-1 ms (24.8 days): clamp, never overflow
    this.timer = setTimeout(
      () => this.trip('timeout', `timeout: the script ran longer than --timeout ${fmtMs(timeoutMs)}`),
      Math.max(0, Math.min(timeoutMs - (ahead?.bodyMs ?? 0), 2 ** 31 - 1)),
    )
    this.baseline = ahead?.baselineBytes ?? residentBytes(this.child) ?? 0
    this.poll = setInterval(() => {
      const rss = residentBytes(this.child)
      if (rss !== undefined && rss - this.baseline > memoryBytes) {
        this.trip('memory', memoryExceededMessage(this.limits.memoryBytes))
      }
    }, WATCH_MS)
  }

  /**
   * arm() for the next of a runner's queued jobs, while this one is still armed: under the same
   * limits the timers are restarted, not made anew (the API's warm pool arms one per call, over
   * 10,000 a second, and every allocation there is paid in GC pauses of all the calls in flight).
   */
  next(limits: Pick<Limits, 'timeoutMs' | 'memoryBytes'>): void {
    if (this.timer && !this.breach && limits.timeoutMs === this.limits.timeoutMs && limits.memoryBytes === this.limits.memoryBytes) {
      this.timer.refresh()
      this.baseline = residentBytes(this.child) ?? 0
      return
    }
    this.limits = limits
    this.arm()
  }

  disarm(): void {
    clearTimeout(this.timer)
    clearInterval(this.poll)
    this.timer = undefined
    this.poll = undefined
  }

  private trip(limit: LimitName, message: string): void {
    if (this.breach) return
    this.breach = {limit, message}
    this.disarm()
    this.child.kill('SIGKILL')
  }

  /** Why a child that exited without answering died: our kill, or V8's own out-of-memory abort. */
  deathBreach(code: number | null, signal: NodeJS.Signals | null): Breach | undefined {
    if (this.breach) return this.breach
    if (signal === 'SIGABRT' || signal === 'SIGTRAP' || code === 134 || code === 133) {
      return {limit: 'memory', message: 'memory limit exceeded: the script exhausted the V8 heap'}
    }
    if (signal === 'SIGKILL')
      return {limit: 'memory', message: 'memory limit exceeded: the script was killed by the system (out of memory)'}
    return undefined
  }
}

function fmtMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

/**
 * A child's resident memory, from /proc/<pid>/statm, read through a descriptor kept open while
 * the child lives: each read is then one pread (about 2 us), where readFileSync's open, fstat,
 * read and close took 20-100 us, and batch reads it for every chunk (the watchdog's baseline and
 * polls, the pool's recycling check).
 */
export function residentBytes(child: ChildProcess): number | undefined {
  if (child.pid === undefined || process.platform !== 'linux') return undefined
  try {
    let fd = statm.get(child)
    if (fd === undefined) {
      if (child.exitCode !== null || child.signalCode !== null) return undefined
      const opened = openSync(`/proc/${child.pid}/statm`, 'r')
      statm.set(child, opened)
      child.once('exit', () => {
        statm.delete(child)
        closeSync(opened)
      })
      fd = opened
    }
    const n = readSync(fd, statmBuf, 0, statmBuf.length, 0)
    return Number(statmBuf.toString('latin1', 0, n).split(' ')[1]) * PAGE
  } catch {
    return undefined
  }
}

const statm = new WeakMap<ChildProcess, number>()
const statmBuf = Buffer.alloc(128)
