import {parseRunArgv} from './run-argv.js'
import type {ChildProcess} from 'node:child_process'
import {superviseRun} from './run-supervisor.js'

/*
 * `burn run` without oclif: loading @oclif/core costs about 90 ms, more than the whole run of
 * a cached script. The flags are the same specs the oclif command uses (spec.ts). Anything
 * unusual (help, a parse error, a missing argument) returns undefined and oclif answers, so
 * usage messages stay oclif's.
 */
export async function fastRun(argv: string[], child: ChildProcess): Promise<number | undefined> {
  const parsed = parseRunArgv(argv)
  if (!parsed) {
    child.kill('SIGKILL')
    return undefined
  }
  return superviseRun(child, parsed.flags)
}
