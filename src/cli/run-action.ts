import {parseLimits, type LimitFlags} from '../lib/limits.js'
import {Runner} from '../lib/engines/runner.js'
import {checkEngine} from '../lib/engines/tag.js'
import {runScript} from '../lib/run.js'
import {openStore} from '../lib/store.js'
import {defaultCacheDir} from '../lib/cache-dir.js'
import {readInput} from './input.js'

export interface RunFlags extends LimitFlags {
  input?: string
  'input-file'?: string
  pretty?: boolean
  engine?: string
  json?: boolean
  'cache-dir'?: string
}

/**
 * `burn run`, shared by the oclif command and the fast path. The runner is forked before
 * anything else so its startup overlaps with flag parsing, store lookup and input reading.
 */
export async function runAction(ref: string, flags: RunFlags): Promise<{hash: string; result: unknown; text: string; cache: string}> {
  const engine = checkEngine(flags.engine ?? 'v8')
  const runner = new Runner(engine)
  try {
    const limits = parseLimits(flags)
    const [store, input] = await Promise.all([openStore(flags['cache-dir'] ?? defaultCacheDir(), {create: false}), readInput(flags)])
    const out = await runScript(store, runner, {ref, input, engine, limits})
    const text = flags.pretty ? JSON.stringify(JSON.parse(out.output), null, 2) : out.output
    return {hash: out.hash, result: flags.json ? JSON.parse(out.output) : undefined, text, cache: out.cache}
  } finally {
    runner.close()
  }
}
