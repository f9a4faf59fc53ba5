// The process that does one `burn run`: resolve, read input, execute the script in this very
// process, print. It may die (a memory bomb, a kill on timeout); its parent (run/supervisor.ts,
// or the run daemon) turns that into a clean exit 6. Everything it writes to the store is
// atomic, so dying at any instruction leaves the store consistent.
import {closeSync, writeSync} from 'node:fs'
import {defaultCacheDir} from '../store/cache-dir.js'
import {executeJob, preloadJob, warmEngine, warmRunner} from '../engines/execute.js'
import {checkEngine, engineTag} from '../engines/tag.js'
import type {Job, JobResult, Limits} from '../engines/protocol.js'
import {scriptFilename, thrownError} from '../engines/script-errors.js'
import {EXIT} from '../util/exit-codes.js'
import {Layout} from '../store/layout.js'
import {parseLimits} from '../cli/limits.js'
import {prettyJson} from '../util/pretty.js'
import {runScript} from '../store/outcome.js'
import {runTarget} from '../store/engine-trust.js'
import {openStore} from '../store/store.js'
import {processStdin, readInput, readStdin, type StdinSource} from '../cli/input.js'
import {renderError} from '../cli/render.js'
import {parseRunArgv} from './request.js'
import {announceStdout, writeAllSync} from '../util/write-sync.js'
import type {PooledHint, PooledRequest} from './daemon/frames.js'
import {watchParent} from '../runners/parent-death.js'

// Dies with its supervisor (the burn run or the run daemon), even in the middle of a sync loop.
watchParent()

// Lines to the parent: `h <engine> <hash>` (what the argument resolved to), `s` (the script
// starts: its deadline and memory baseline start here), `e` (it ended), `o <err> <out>` (stdout
// is written next, at byte <out>, after <err> bytes of stderr), `x <code>` (done, see finish()).
const EVENTS_FD = 3

announceStdout((err, out) => {
  try {
    writeSync(EVENTS_FD, `o ${err} ${out}\n`)
  } catch {
    // no parent listening (run by hand)
  }
})

// A promise that can never settle (nothing left on the event loop) would otherwise end the
// process silently with exit 0: it is reported as the timeout it would have become.
const stalled = new Promise<JobResult>((resolve) => {
  process.once('beforeExit', () =>
    resolve({
      ok: false,
      error: {kind: 'limit', limit: 'timeout', message: "timeout: the script's promise can never settle (it waits on nothing)"},
    }),
  )
})

// What the script's timers and stray promises throw outside its awaited call (runner-main.ts
// does the same for batch): an uncaught exception, or console output past --max-log in a timer,
// fails the call in flight with its words under --max-log, instead of node's crash report
// (unlimited bytes, exit 1); once the call has ended it changes nothing. A rejection the script
// left unhandled is ignored, as a browser would.
let failCall: ((error: unknown) => void) | undefined
let callEnded = false
process.on('uncaughtException', (error) => {
  if (failCall) return failCall(error)
  if (!callEnded) finish(renderError(error, process.argv.includes('--json')))
})
process.on('unhandledRejection', (error) => {
  if (!failCall && !callEnded) finish(renderError(error, process.argv.includes('--json')))
})
const thrownOutside = (job: Job) =>
  new Promise<JobResult>((resolve) => {
    failCall = (error) => resolve({ok: false, error: thrownError(error, scriptFilename(job.hash), job.limits.maxLogBytes)})
  })

async function main(argv: string[], stdin: StdinSource): Promise<number> {
  const parsed = parseRunArgv(argv)
  // The parent saw the same argv and lets oclif explain what is wrong with it.
  if (!parsed) return EXIT.usage
  const {ref, flags} = parsed
  let limits: Limits | undefined
  try {
    const requested = flags.engine === undefined ? undefined : checkEngine(flags.engine)
    // Bad flags are reported before the store is read.
    limits = parseLimits(flags, requested)
    const [store, input] = await Promise.all([openStore(flags['cache-dir'] ?? defaultCacheDir(), {create: false}), readInput(flags, stdin)])
    // The engine is the script's (registered), never a default taken before it was found.
    const {hash, engine} = await runTarget(store, ref, requested)
    limits = parseLimits(flags, engine)
    // Loading an engine (the QuickJS wasm) is burn's cost, not the script's: done before 's'.
    await warmEngine(engine, limits)
    const out = await runScript(
      store!,
      async (job) => {
        writeSync(EVENTS_FD, `h ${job.engine} ${job.hash}\ns\n`)
        const result = await Promise.race([executeJob(job), stalled, thrownOutside(job)])
        failCall = undefined
        callEnded = true
        // Printing and bookkeeping after the script are burn's, not the script's: a watchdog kill
        // can no longer follow an error this process already reported.
        writeSync(EVENTS_FD, 'e\n')
        return result
      },
      {hash, input, engine, limits},
    )
    const text = flags.json
      ? JSON.stringify({hash: out.hash, cache: out.cache, result: JSON.parse(out.output)})
      : flags.pretty
        ? prettyJson(out.output, limits.maxOutputBytes)
        : out.output
    writeAllSync(1, text + '\n')
    return 0
  } catch (error) {
    // What a script wrote into its error is under the limit of where it goes (render.ts).
    return renderError(error, Boolean(flags.json), limits && (flags.json ? limits.maxOutputBytes : limits.maxLogBytes))
  }
}

/**
 * A runner the run daemon started ahead of its call. While it waits, everything a call runs
 * through is loaded and compiled (the store's metadata, the flag parsers, the xxh64 wasm, the
 * v8 engine on a trivial script: together about half of a tiny call in a fresh process; or the
 * sandbox of a call expected on quickjs), and the script the daemon expects is loaded. Then it does exactly one call, as sent on stdin.
 */
async function pooled(hintArg: string | undefined): Promise<number> {
  let warm: Promise<unknown> = Promise.resolve()
  try {
    const hint = JSON.parse(hintArg ?? '') as PooledHint
    const limits = parseLimits(parseRunArgv(['x', '--timeout', '1s'])!.flags, 'v8')
    // A call expected on quickjs gets its sandbox made (with the limits that call had last
    // time) instead of the v8 engine's warm-up, which it would not use.
    const engine = hint.quickjs ? warmEngine('quickjs', hint.quickjs) : warmRunner(limits)
    // (a store refused now is refused again, with its message, by the call itself)
    warm = Promise.all([openStore(hint.cacheDir, {create: false}), engine]).catch(() => {})
    if (hint.script) {
      const layout = new Layout(hint.cacheDir)
      const engine = checkEngine(hint.script.engine)
      const tag = engineTag(engine)
      const {hash} = hint.script
      preloadJob({engine, tag, hash, sourcePath: layout.object(hash), compiledPath: layout.compiled(tag, hash)})
    }
  } catch {
    // a bad hint only costs the warm-up
  }
  const text = await readStdin()
  await warm.catch(() => {})
  // stdin closed without a request: the daemon is shutting down
  if (text === '') return 0
  const req = JSON.parse(text) as PooledRequest
  process.chdir(req.cwd)
  return main(req.argv, {isTTY: req.stdin === null, read: async () => req.stdin ?? ''})
}

/**
 * Tells the parent the call is over (`x <code>`) before tearing down: a process that ran
 * QuickJS's wasm spends ~70 ms in exit waiting for V8's background compiler to finish tiering
 * up functions nobody will call again. The result, the script's console and error messages went
 * out with writeSync (writeAllSync): nothing is left in a stream's buffer. Closing stdout and stderr lets a parent that reads them
 * see their end now, not at exit.
 */
function finish(code: number): never {
  for (const fd of [1, 2]) {
    try {
      closeSync(fd)
    } catch {
      // already closed
    }
  }
  try {
    writeSync(EVENTS_FD, `x ${code}\n`)
  } catch {
    // no parent listening (run by hand)
  }
  process.exit(code)
}

const done = process.argv[2] === '--pooled' ? pooled(process.argv[3]) : main(process.argv.slice(2), processStdin)
done.then(finish, (error) => finish(renderError(error, process.argv.includes('--json'))))
