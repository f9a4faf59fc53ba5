// The process that does one `burn run`: resolve, read input, execute the script in this very
// process, print. It may die (a memory bomb, a kill on timeout); its parent (run/supervisor.ts,
// or the run daemon) turns that into a clean exit 6. Everything it writes to the store is
// atomic, so dying at any instruction leaves the store consistent.
import {closeSync, writeSync} from 'node:fs'
import {claimJob, executeJob, preloadJob, warmEngine, warmRunner, type Prewarm} from '../engines/execute.js'
import {checkEngine, engineTag} from '../engines/tag.js'
import {tuneQuickjsForFewCalls} from '../engines/wasm-flags.js'
import type {Job, JobResult, Limits} from '../engines/protocol.js'
import {scriptFilename, thrownError} from '../engines/script-errors.js'
import {Layout} from '../store/layout.js'
import {runScript} from '../store/outcome.js'
import {afterFetchedRun, runTargetOrFetch} from '../store/remote/lookup.js'
import {memoRemote} from '../store/remote/results.js'
import {onRemoteFailure, remoteCoolingDown} from '../store/remote/session.js'
import {openStore} from '../store/store.js'
import {processStdin, readInput, readStdin, type StdinSource} from '../cli/input.js'
import {renderError} from '../cli/render.js'
import {usageError} from '../util/errors.js'
import {fromChildArgs, inputFlags, type RunRequest} from './request.js'
import {memoOptions, runOutput} from './memo.js'
import {MEMO_CLOCK_MS} from '../store/results/key.js'
import {memoRun} from '../store/results/memo.js'
import {encodeEvents, EVENTS_FD, type RunEvent} from './events.js'
import {announceStdout, writeAllSync} from '../util/write-sync.js'
import type {DaemonCall, PooledHint, RunnerNote} from './daemon/frames.js'
import {watchParent} from '../runners/parent-death.js'

// Dies with its supervisor (the burn run or the run daemon), even in the middle of a sync loop.
watchParent()

/**
 * Tells the parent (events.ts). A write that fails throws: the script must never start unless
 * its supervisor knows (its watchdog arms on `started`).
 */
const tell = (...events: RunEvent[]): void => void writeSync(EVENTS_FD, encodeEvents(...events))

/** The same, for events that change nothing when nobody listens (run by hand). */
function tellIfHeard(event: RunEvent): void {
  try {
    tell(event)
  } catch {
    // no parent listening
  }
}

// A remote that fails here is left alone by the run daemon for a while (its cooldown): runners
// are one call each, so this process's own "off until it ends" would not outlive the call.
onRemoteFailure((why) => tellIfHeard({kind: 'remote-failed', why}))

announceStdout((stderrBytes, stdoutAt) => tellIfHeard({kind: 'stdout-next', stderrBytes, stdoutAt}))

/** --json of the call in progress: how an error thrown outside it is rendered. */
let json = false

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
// A pooled runner waiting for its call has run no script but a module body ahead (warm.ts),
// whose instance then serves no call: what that body left behind fails nothing.
let failCall: ((error: unknown) => void) | undefined
let callEnded = false
let waitingForCall = false
process.on('uncaughtException', (error) => {
  if (failCall) return failCall(error)
  if (!callEnded && !waitingForCall) finish(renderError(error, json))
})
process.on('unhandledRejection', (error) => {
  if (!failCall && !callEnded && !waitingForCall) finish(renderError(error, json))
})
const thrownOutside = (job: Job) =>
  new Promise<JobResult>((resolve) => {
    failCall = (error) => resolve({ok: false, error: thrownError(error, scriptFilename(job.hash), job.limits.maxLogBytes)})
  })

async function main(req: RunRequest, stdin: StdinSource): Promise<number> {
  json = req.output === 'json'
  const limits = req.limits
  try {
    const [local, input] = await Promise.all([openStore(req.cacheDir, {create: false}), readInput(inputFlags(req.input), stdin)])
    // The engine is the script's (registered), never a default taken before it was found. A
    // local miss of a full hash or a name asks the shared remote cache, if one is configured.
    const {store, hash, engine, remote} = await runTargetOrFetch(local, req.cacheDir, req.ref, req.engine)
    // (a fetched script's remote counters are recorded, and a compiled form it lacked is published, after its run)
    const settleRemote = () => (remote ? afterFetchedRun(store!, remote).catch(() => {}) : undefined)
    if (req.fuelRefused !== undefined && engine !== 'quickjs') throw usageError(req.fuelRefused)
    // Loading an engine (the QuickJS wasm) is burn's cost, not the script's: done before 's'.
    await warmEngine(engine, limits)
    const target = {hash, engine, input, limits}
    const memo = memoOptions(req)
    // (a --memo miss here asks the shared remote cache for the result, and a result computed here is published)
    const shared = memo?.memo ? memoRemote() : undefined
    const settle = async () => {
      await settleRemote()
      await shared?.finish(store!).catch(() => {})
    }
    // (under --memo a quickjs call reads a fixed clock: its result is then a function of what it is keyed by)
    const run = () => runScript(store!, (job) => runJob(job), {...target, ...(memo && engine === 'quickjs' ? {clock: MEMO_CLOCK_MS} : {})})
    const out = await (memo ? memoRun(store!, target, {...memo, remote: shared}, run) : run()).catch(async (error: unknown) => {
      await settle()
      throw error
    })
    writeAllSync(1, runOutput(req, out, limits) + '\n')
    await settle()
    return 0
  } catch (error) {
    // What a script wrote into its error is under the limit of where it goes (render.ts).
    return renderError(error, json, json ? limits.maxOutputBytes : limits.maxLogBytes)
  }
}

async function runJob(job: Job): Promise<JobResult> {
  // A module body run ahead counts against this call's deadline and memory (the watchdog's).
  const warm = await claimJob(job).catch(() => undefined)
  const ahead = warm && {bodyMs: warm.bodyMs, baselineBytes: warm.baselineBytes}
  tell({kind: 'resolved', engine: job.engine, hash: job.hash}, {kind: 'started', warm: ahead})
  const result = await Promise.race([executeJob(job), stalled, thrownOutside(job)])
  failCall = undefined
  callEnded = true
  // Printing and bookkeeping after the script are burn's, not the script's: a watchdog kill
  // can no longer follow an error this process already reported.
  tell({kind: 'ended'})
  return result
}

/**
 * A runner the run daemon started ahead of its call. While it waits, everything a call runs
 * through is loaded and compiled (the store's metadata, the xxh64 wasm, the v8 engine on a
 * trivial script: together about half of a tiny call in a fresh process; or the sandbox of a
 * call expected on quickjs), and the script the daemon expects is loaded and, given the limits
 * of the call expected, its module body run (engines/warm.ts; the daemon watches its memory
 * from `b` to `B`). Then it does exactly one call, the client's request as the daemon got it
 * (daemon/frames.ts), sent on stdin.
 */
async function pooled(hintArg: string | undefined): Promise<number> {
  waitingForCall = true
  let warm: Promise<unknown> = Promise.resolve()
  try {
    const hint = JSON.parse(hintArg ?? '') as PooledHint
    // A call expected on quickjs gets its sandbox made (with the limits that call had last
    // time) instead of the v8 engine's warm-up, which it would not use.
    const engine = hint.quickjs ? warmEngine('quickjs', hint.quickjs) : warmRunner(WARM_UP_LIMITS)
    // (a store refused now is refused again, with its message, by the call itself)
    warm = Promise.all([openStore(hint.cacheDir, {create: false}), engine]).catch(() => {})
    if (hint.script) {
      const layout = new Layout(hint.cacheDir)
      const engine = checkEngine(hint.script.engine)
      const tag = engineTag(engine)
      const {hash} = hint.script
      const prewarm: Prewarm | undefined = hint.limits && {
        limits: hint.limits,
        onBodyStart: (baselineBytes) => tellIfHeard({kind: 'body', baselineBytes}),
        onBodyEnd: (dirty) => tellIfHeard({kind: 'body-end', clean: dirty === undefined}),
      }
      preloadJob({engine, tag, hash, sourcePath: layout.object(hash), compiledPath: layout.compiled(tag, hash)}, prewarm)
    }
  } catch {
    // a bad hint only costs the warm-up (and the daemon hears that no body ran ahead)
    tellIfHeard({kind: 'body-end', clean: false})
  }
  const text = await readStdin()
  await warm.catch(() => {})
  waitingForCall = false
  // stdin closed without a request: the daemon is shutting down
  if (text === '') return 0
  // the daemon's line for this runner (RunnerNote), then the client's request as it came
  const nl = text.indexOf('\n')
  const note = JSON.parse(text.slice(0, nl)) as RunnerNote
  if (note.remoteCooldown) remoteCoolingDown(note.remoteCooldown.why, note.remoteCooldown.leftMs)
  const call = JSON.parse(text.slice(nl + 1)) as DaemonCall
  process.chdir(call.cwd)
  return main(call.run, {isTTY: call.stdin === null, read: async () => call.stdin ?? ''})
}

// The v8 warm-up runs a trivial script that logs nothing: these limits only need to be valid.
const WARM_UP_LIMITS: Limits = {timeoutMs: 1000, memoryBytes: 512 * 1024 * 1024, maxOutputBytes: 1024 * 1024, maxLogBytes: 1024 * 1024}

/** A direct run (spawn.ts): the request comes as this process's arguments. */
async function direct(): Promise<number> {
  tuneQuickjsForFewCalls()
  return main(fromChildArgs(process.argv.slice(2)), processStdin)
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
  tellIfHeard({kind: 'exit', code})
  process.exit(code)
}

const done = process.argv[2] === '--pooled' ? pooled(process.argv[3]) : direct()
done.then(finish, (error) => finish(renderError(error, json)))
