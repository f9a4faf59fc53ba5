import {stat} from 'node:fs/promises'
import {promiseHooks} from 'node:v8'
import {ConsoleBudget} from './console-budget.js'
import type {Limits, ScriptFiles} from './protocol.js'

/*
 * Pre-instantiation (the run daemon's pooled runner, run/child.ts): a runner that waits for a
 * call it expects runs that script's module body ahead, so the call only calls the export. The
 * call must end exactly as a direct run would, so a body is kept warm only if, under the very
 * limits the expected call has, it finished cleanly and left nothing that could run before the
 * call: it did not throw, stayed within --timeout (vm's own deadline) and --max-log, created no
 * promise (its reactions would run before the call's first line, not after it), and asked for no
 * timer or microtask (those ask only: the request sets `dirty` and schedules nothing). Any of
 * these discards the instance and the call runs the script cold, the way a direct run does.
 * Memory is watched from outside while the body runs (the run daemon's watchdog). At the call,
 * the body's console lines are written first, under the call's own --max-log, and the body's time
 * and the memory before it count against the call's --timeout and --memory
 * (docs/architecture.md, "Pre-instantiation").
 */

/** A console budget that keeps a module body's lines, to be written when its call comes. */
export class HeldConsole extends ConsoleBudget {
  readonly lines: string[] = []

  override write(text: string, charged = 0): void {
    this.charge(Buffer.byteLength(text) - charged)
    this.lines.push(text)
  }

  /** Writes the held lines through the call's own budget (the same limits: they fit). */
  replay(into: ConsoleBudget): void {
    for (const line of this.lines) into.write(line)
  }
}

/** While a module body runs ahead of its call: what it did that a direct run would see differently. */
export class WarmGuard {
  dirty?: string
  /** false once the call has started: the sandbox's functions are then the host's own. */
  warming = true

  /** `fn`, which during the body only marks the instance as not reusable (and does nothing). */
  defer<F extends (...a: never[]) => unknown>(name: string, fn: F): F {
    // (named as the host function, so the script sees the same `name`)
    const wrapped = {
      [name]: (...args: never[]) => {
        if (!this.warming) return fn(...args)
        this.dirty ??= `the module body called ${name}`
        return undefined
      },
    }[name]
    return wrapped as F
  }

  /** Runs a module body; its promises, console overflow or throw make the instance not reusable. */
  run(body: () => void, console: HeldConsole): void {
    const stop = promiseHooks.onInit(() => (this.dirty ??= 'the module body created a promise'))
    try {
      body()
      if (console.exceeded) this.dirty ??= 'the module body went past --max-log'
    } catch (error) {
      this.dirty ??= `the module body did not finish: ${String((error as Error)?.message ?? error)}`
    } finally {
      stop()
    }
  }
}

/** A module instance made ahead of its call, usable only by a call with these exact limits. */
export interface WarmInstance {
  limits: Limits
  /** Time the body took (ms): counted against the call's --timeout. */
  bodyMs: number
  /** The runner's resident memory before the body: the call's --memory baseline. */
  baselineBytes: number
  dirty?: string
}

export const sameLimits = (a: Limits, b: Limits): boolean =>
  a.timeoutMs === b.timeoutMs &&
  a.memoryBytes === b.memoryBytes &&
  a.fuel === b.fuel &&
  a.maxOutputBytes === b.maxOutputBytes &&
  a.maxLogBytes === b.maxLogBytes

/** When a module body is run ahead: the expected call's limits, and who watches it (the run daemon, through its runner). */
export interface Prewarm {
  limits: Limits
  /** The body starts now; the runner's resident memory before it. */
  onBodyStart: (baselineBytes: number) => void
  /** The body is over: `dirty` says why its instance cannot serve the call. */
  onBodyEnd: (dirty?: string) => void
}

/** Stamps of a script's files: what was loaded ahead serves a call only if they are unchanged. */
export async function fileStamps(files: ScriptFiles): Promise<string> {
  const one = (p: string) =>
    stat(p, {bigint: true}).then(
      (s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`,
      (e: NodeJS.ErrnoException) => e.code ?? 'error',
    )
  return `${await one(files.sourcePath)}|${await one(files.compiledPath)}`
}
