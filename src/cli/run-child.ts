// The process that does one `burn run`: resolve, read input, execute the script in this very
// process, print. It may die (a memory bomb, a kill on timeout); run-supervisor.ts, its parent,
// turns that into a clean exit 6. Everything it writes to the store is atomic, so dying at any
// instruction leaves the store consistent.
import {writeSync} from 'node:fs'
import {defaultCacheDir} from '../lib/cache-dir.js'
import {executeJob, warmEngine} from '../lib/engines/execute.js'
import {checkEngine} from '../lib/engines/tag.js'
import type {JobResult} from '../lib/engines/protocol.js'
import {EXIT} from '../lib/exit-codes.js'
import {parseLimits} from '../lib/limits.js'
import {runScript} from '../lib/run.js'
import {openStore} from '../lib/store.js'
import {readInput} from './input.js'
import {renderError} from './render.js'
import {parseRunArgv} from './run-argv.js'

const START_FD = 3

function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text)
  let off = 0
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue
      if ((error as NodeJS.ErrnoException).code === 'EPIPE') return
      throw error
    }
  }
}

// A promise that can never settle (nothing left on the event loop) would otherwise end the
// process silently with exit 0: it is reported as the timeout it would have become.
const stalled = new Promise<JobResult>((resolve) => {
  process.once('beforeExit', () => resolve({ok: false, error: {kind: 'limit', limit: 'timeout', message: "timeout: the script's promise can never settle (it waits on nothing)"}}))
})

async function main(): Promise<number> {
  const parsed = parseRunArgv(process.argv.slice(2))
  // The parent saw the same argv and lets oclif explain what is wrong with it.
  if (!parsed) return EXIT.usage
  const {ref, flags} = parsed
  try {
    const engine = checkEngine(flags.engine ?? 'v8')
    const limits = parseLimits(flags, engine)
    const [store, input] = await Promise.all([
      openStore(flags['cache-dir'] ?? defaultCacheDir(), {create: false}),
      readInput(flags),
      // Loading an engine (the QuickJS wasm) is burn's cost, not the script's: done before 's'.
      warmEngine(engine, limits),
    ])
    const out = await runScript(store, async (job) => {
      // Tell the supervisor the script starts now: its deadline and memory baseline start here.
      writeSync(START_FD, 's')
      const result = await Promise.race([executeJob(job), stalled])
      // ...and that it ended: printing and bookkeeping after it are burn's, not the script's, so
      // a watchdog kill can no longer follow an error this process already reported.
      writeSync(START_FD, 'e')
      return result
    }, {ref, input, engine, limits})
    const text = flags.json
      ? JSON.stringify({hash: out.hash, cache: out.cache, result: JSON.parse(out.output)})
      : flags.pretty ? JSON.stringify(JSON.parse(out.output), null, 2) : out.output
    // fd 1 directly: creating process.stdout costs a stream setup this short process does not need
    writeAllSync(1, text + '\n')
    return 0
  } catch (error) {
    return renderError(error, Boolean(flags.json))
  }
}

main().then(
  (code) => process.exit(code),
  (error) => process.exit(renderError(error, process.argv.includes('--json'))),
)
