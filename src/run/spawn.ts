import type {ChildProcess} from 'node:child_process'
import {childProcess} from '../util/builtins.js'
import {RUN_CHILD} from './bundles.js'
import {tiedNode} from '../runners/parent-death.js'
import {toChildArgs, type RunRequest} from './request.js'

// Apart from run/supervisor.ts so that a direct `burn run` starts its child before it loads
// the supervisor (the two then start up in parallel).
export type Closed = Promise<[number | null, NodeJS.Signals | null]>

/** The child's exit, once its pipes are drained too; call it right after spawning. */
export function childClosed(child: ChildProcess): Closed {
  return new Promise((resolve) => child.once('close', (code, signal) => resolve([code, signal])))
}

/**
 * Starts run-child.cjs, the CommonJS bundle of run/child.ts (scripts/bundle.mjs: it starts
 * about 7 ms faster than ESM). `stdin`: text to feed it instead of this process's own stdin
 * (a call the run daemon dropped after the client had read its stdin).
 */
export function spawnRunChild(req: RunRequest, stdin?: string): {child: ChildProcess; closed: Closed} {
  const node = tiedNode(process.execArgv)
  const child = childProcess().spawn(node.execPath, [...node.execArgv, RUN_CHILD, ...toChildArgs(req)], {
    stdio: [stdin === undefined ? 'inherit' : 'pipe', 'inherit', 'inherit', 'pipe'],
  })
  const closed = childClosed(child)
  if (stdin !== undefined) {
    child.stdin!.on('error', () => {})
    child.stdin!.end(stdin)
  }
  return {child, closed}
}
