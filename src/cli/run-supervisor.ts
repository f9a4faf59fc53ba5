import {spawn, type ChildProcess} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {defaultCacheDir} from '../lib/cache-dir.js'
import {Watchdog} from '../lib/engines/watchdog.js'
import {BurnError} from '../lib/errors.js'
import {parseLimits} from '../lib/limits.js'
import {recordStats} from '../lib/stats.js'
import {openStore} from '../lib/store.js'
import {renderError} from './render.js'
import type {RunFlags} from './run-argv.js'

// run-child.cjs is the CommonJS bundle of run-child.ts (scripts/bundle.mjs): it starts about
// 7 ms faster than ESM. bin/run.js spawns the same file before it loads anything else.
export const RUN_CHILD = fileURLToPath(new URL('../fast/run-child.cjs', import.meta.url))

export function spawnRunChild(argv: string[]): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, RUN_CHILD, ...argv], {stdio: ['inherit', 'inherit', 'inherit', 'pipe']})
}

/**
 * `burn run` = this supervisor + one child process (run-child.ts) that does all the work and
 * runs the script in itself. The child is a plain node process with the parent's exact flags,
 * so V8 accepts the code cache made at register time. Limits it cannot enforce on itself
 * (deadline, resident memory, V8's heap abort) end here as exit 6; every other outcome is the
 * child's own exit code and output. Costs one process start (measured in bench/run-startup).
 */
export async function superviseRun(child: ChildProcess, flags: RunFlags): Promise<number> {
  let limits
  try {
    limits = parseLimits(flags, flags.engine ?? 'v8')
  } catch (error) {
    child.kill('SIGKILL')
    return renderError(error, Boolean(flags.json))
  }
  const dog = new Watchdog(child, limits)
  // 's': the script starts; 'e': it ended (both may come in one chunk).
  child.stdio[3]!.on('data', (d: Buffer) => {
    for (const c of d.toString('latin1')) {
      if (c === 's') dog.arm()
      else if (c === 'e') dog.disarm()
    }
  })
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve([child.exitCode, child.signalCode])
    else child.on('exit', (c, s) => resolve([c, s]))
  })
  dog.disarm()
  const breach = dog.deathBreach(code, signal)
  if (breach) {
    await recordBreach(flags, breach.limit)
    return renderError(new BurnError('limit', breach.message, {limit: breach.limit}), Boolean(flags.json))
  }
  if (code === null) return renderError(new BurnError('internal', `the run process was killed by ${signal}`), Boolean(flags.json))
  return code
}

async function recordBreach(flags: RunFlags, limit: string): Promise<void> {
  try {
    const store = await openStore(flags['cache-dir'] ?? defaultCacheDir(), {create: false})
    if (store) await recordStats(store.layout, {counters: {[`runs.limit.${limit}`]: 1}})
  } catch {
    // counting is best effort: the breach itself is already reported
  }
}
