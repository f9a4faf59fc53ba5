import type {ChildProcess} from 'node:child_process'
import {QUICKJS_HOST_SLACK_BYTES, Watchdog} from '../runners/watchdog.js'
import {BurnError} from '../util/errors.js'
import {recordStats} from '../store/stats/stats.js'
import {openStore} from '../store/store.js'
import {renderError} from '../cli/render.js'
import {EVENTS_FD, RunEventReader} from './events.js'
import type {RunRequest} from './request.js'
import type {Closed} from './spawn.js'

export interface SuperviseOptions {
  /** childClosed(child), taken when it was spawned. */
  closed: Closed
  /** Where supervisor-side errors go (the run daemon sends them to its client). */
  render?: (error: unknown, json: boolean) => number
  /** The script the child resolved the argument to (the run daemon preloads it next time). */
  onScript?: (engine: string, hash: string) => void
  /** The script ended (its result is being printed): the run daemon starts the next runner. */
  onEnded?: () => void
  /**
   * The child's stdout from byte `stdoutAt` on was written after its first `stderrBytes` bytes
   * of stderr: the run daemon, which reads the two from separate pipes, relays them in that
   * order, so a client's `2>&1` reads as a direct run's.
   */
  stdoutOrder?: (stdoutAt: number, stderrBytes: number) => void
  /** The shared remote cache failed in the child (the run daemon leaves it alone for a while). */
  onRemoteFailed?: (why: string) => void
  /** The caller went away and killed the child itself: no breach to report or count. */
  cancelled?: () => boolean
}

/**
 * `burn run` = this supervisor + one child process (run/child.ts) that does all the work and
 * runs the script in itself. The child is a plain node process with the parent's exact flags,
 * so V8 accepts the code cache made at register time. Limits it cannot enforce on itself
 * (deadline, resident memory, V8's heap abort) end here as exit 6; every other outcome is the
 * child's own exit code and output.
 */
export async function superviseRun(child: ChildProcess, req: RunRequest, opts: SuperviseOptions): Promise<number> {
  const render = opts.render ?? renderError
  const json = req.output === 'json'
  const dog = new Watchdog(child, req.limits)
  let reported: (code: number) => void = () => {}
  const done = new Promise<number>((resolve) => (reported = resolve))
  let engine = req.engine as string | undefined
  const events = new RunEventReader()
  child.stdio[EVENTS_FD]!.on('data', (d: Buffer) => {
    for (const e of events.push(d)) {
      if (e.kind === 'started') dog.arm(engine === 'quickjs' ? QUICKJS_HOST_SLACK_BYTES : 0, e.warm)
      else if (e.kind === 'ended') {
        dog.disarm()
        opts.onEnded?.()
      } else if (e.kind === 'stdout-next') opts.stdoutOrder?.(e.stdoutAt, e.stderrBytes)
      else if (e.kind === 'exit') reported(e.code)
      else if (e.kind === 'remote-failed') opts.onRemoteFailed?.(e.why)
      else if (e.kind === 'resolved') {
        engine = e.engine
        opts.onScript?.(e.engine, e.hash)
      }
    }
  })
  // Output the child writes to pipes (the run daemon's runners) counts only once it is all read.
  const outputRead = Promise.all(
    [child.stdout, child.stderr].map(
      (s) => s && !s.readableEnded && new Promise((resolve) => s.once('end', resolve).once('close', resolve)),
    ),
  )
  const early = done.then(async (code) => [await outputRead.then(() => code), null] as const)
  const [code, signal] = await Promise.race([opts.closed, early])
  dog.disarm()
  // Reported done: its teardown is of no use to anyone (and costs a core for ~70 ms after quickjs).
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  if (opts.cancelled?.()) return 130
  const breach = dog.deathBreach(code, signal)
  if (breach) {
    await recordBreach(req.cacheDir, breach.limit)
    return render(new BurnError('limit', breach.message, {limit: breach.limit}), json)
  }
  if (code === null) return render(new BurnError('internal', `the run process was killed by ${signal}`), json)
  return code
}

async function recordBreach(cacheDir: string, limit: string): Promise<void> {
  try {
    const store = await openStore(cacheDir, {create: false})
    if (store) await recordStats(store.layout, {counters: {[`runs.limit.${limit}`]: 1}})
  } catch {
    // counting is best effort: the breach itself is already reported
  }
}
