import {runViaDaemon} from './daemon/client.js'
import {parseRunArgv} from './request.js'
import {spawnRunChild} from './spawn.js'

/*
 * `burn run` without oclif: loading @oclif/core costs about 90 ms, more than the whole run of
 * a cached script. The flags are the same specs the oclif command uses (spec.ts). Anything
 * unusual (help, a parse error, a missing argument) returns undefined and oclif answers, so
 * usage messages stay oclif's.
 */
export async function fastRun(argv: string[]): Promise<number | undefined> {
  const parsed = parseRunArgv(argv)
  if (!parsed) return undefined
  const viaDaemon = await runViaDaemon(argv, parsed.flags)
  if ('code' in viaDaemon) return viaDaemon.code
  const {child, closed} = spawnRunChild(argv, viaDaemon.stdin)
  // loaded only now (a separate chunk of the bundle), while the child starts
  const {superviseRun} = await import('./supervisor.js')
  return superviseRun(child, parsed.flags, {closed})
}
