import type {RunRequest} from './request.js'
import {spawnRunChild} from './spawn.js'

/**
 * A call run by a child of this very process, without the run daemon: a first run, a call the
 * daemon may not serve, the oclif command's. `stdin`: what was read of this process's stdin
 * already (see spawnRunChild).
 */
export async function runDirect(req: RunRequest, stdin?: string): Promise<number> {
  const {child, closed} = spawnRunChild(req, stdin)
  // loaded only now (a separate chunk of the bundle), while the child starts
  const {superviseRun} = await import('./supervisor.js')
  return superviseRun(child, req, {closed})
}
