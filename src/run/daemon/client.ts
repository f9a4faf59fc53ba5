import {existsSync, statSync} from 'node:fs'
import {createConnection, type Socket} from 'node:net'
import {cacheDirShared, daemonDirProblem, socketProblem} from '../../store/daemon-trust.js'
import {BurnError, storeError} from '../../util/errors.js'
import {readStdin, readsStdin} from '../../cli/input.js'
import {renderError} from '../../cli/render.js'
import {inputFlags, type RunRequest} from '../request.js'
import {writeAllSync} from '../../util/write-sync.js'
import {childProcess} from '../../util/builtins.js'
import {frame, FrameReader, KEEPALIVE_MS, MAX_FRAME, SILENCE_MS, type DaemonCall} from './frames.js'
import {DAEMON_JS} from '../bundles.js'
import {daemonAllowed, daemonPaths, type DaemonPaths} from './where.js'
import type {Layout} from '../../store/layout.js'

/** The call ran (its exit code), or it must run directly (with the stdin already read, if any). */
export type DaemonOutcome = {code: number} | {direct: true; stdin?: string}

// A daemon lock touched this recently belongs to a daemon that is starting or running.
const LOCK_FRESH_MS = 5000
// BURN_DAEMON=require (tests): how long a first call waits for the daemon it started.
const REQUIRE_WAIT_MS = 10_000
// A silence timer this late means this client was not running (a loaded machine stalls daemon and
// client alike): the daemon gets STALL_GRACE_MS more from now, not a verdict on time nobody watched.
const STALL_SLACK_MS = 1000
const STALL_GRACE_MS = 5000

/** How this call may use the daemon: BURN_DAEMON=require, BURN_DEBUG, --json. */
interface Mode {
  required: boolean
  debug: boolean
  json: boolean
}

/**
 * `burn run` through the run daemon of its cache dir (daemon/server.ts), which keeps a runner
 * process started and its likely script loaded, so a call costs this client's start and the
 * script's own work. No daemon yet: one is started in the background and this call runs
 * directly, as do calls the daemon may not serve (daemonAllowed) and calls from a working
 * directory that no longer exists (the direct path treats it as any run does). A socket is used
 * only if nobody else could have put it there (daemon-trust.ts). BURN_DEBUG: one line on stderr
 * says how each call was served (by the daemon, or directly and why).
 */
export async function runViaDaemon(req: RunRequest): Promise<DaemonOutcome> {
  if (!daemonAllowed(process.env)) return notServed('BURN_DAEMON=off', modeOf(process.env, req, false))
  const mode = modeOf(process.env, req, daemonRequired(process.env))
  const cwd = currentDir()
  if (cwd === undefined) return notServed('its working directory no longer exists', mode)
  const paths = daemonPaths(req.cacheDir, process.env)
  if (!paths) return notServed('the run daemon socket path of this cache dir would be too long', mode)
  // (a cache dir or store that is not there is the direct path's error to give: no script runs)
  // (unless a remote is configured: then the direct path could fetch and run, so require still refuses)
  if (mode.required && !existsSync(paths.layout.storeJson))
    return notServed('no store there', {...mode, required: Boolean(process.env.BURN_REMOTE)})
  if (cacheDirShared(paths.layout.root)) return notServed("the cache dir is not its user's alone", mode)
  const refused = daemonDirProblem(paths.layout.daemonDir)
  if (refused) return {code: renderError(storeError(refused), mode.json)}
  const found = await findSocket(paths, mode.required)
  if (found === undefined)
    return notServed(mode.required ? `no run daemon came up within ${REQUIRE_WAIT_MS / 1000}s` : 'no run daemon yet', mode)
  if (found !== true) {
    if (mode.required) return notServed(found, mode)
    writeAllSync(2, `burn: not using the run daemon: ${found}; the call runs directly (burn daemon stop removes the socket)\n`)
    return {direct: true}
  }
  // stdin first, then the connection: a client waiting on slow input holds no connection the
  // daemon could close under it (idle timeout, `burn daemon stop`).
  const stdin = readsStdin(inputFlags(req.input), Boolean(process.stdin.isTTY)) ? await readStdin() : null
  // (a bigger request than the daemon takes: the direct path has no such bound)
  if (stdin !== null && Buffer.byteLength(stdin) > MAX_FRAME - 64 * 1024) return notServed('its stdin is over 256 MiB', mode, stdin)
  const sock = await connect(paths.socket)
  if (!sock) {
    // A socket nobody accepts on: its daemon died (kill -9) and left it. A daemon failure,
    // counted as a fallback mid-call is; the next daemon takes the socket over.
    if (!mode.required) await countFallback(paths.layout)
    startDaemon(paths)
    return notServed('the run daemon socket refused the connection (its daemon is gone)', mode, stdin ?? undefined)
  }
  // (the cache dir made absolute: the daemon's runner resolves nothing against the client's cwd)
  const call: DaemonCall = {run: {...req, cacheDir: paths.layout.root}, cwd, stdin}
  const outcome = await relay(sock, call)
  if ('failed' in outcome) return abandon(outcome.failed, paths, call, mode)
  if (mode.debug) writeAllSync(2, 'burn: debug: served by the run daemon\n')
  return outcome
}

const modeOf = (env: NodeJS.ProcessEnv, req: RunRequest, required: boolean): Mode => ({
  required,
  debug: debugging(env),
  json: req.output === 'json',
})

/** BURN_DEBUG set (and not 0, off, false or no): say on stderr how each call was served. */
const debugging = (env: NodeJS.ProcessEnv): boolean => env.BURN_DEBUG !== undefined && !/^(|off|0|false|no)$/i.test(env.BURN_DEBUG)

/**
 * The call runs directly, or, under BURN_DAEMON=require, fails with exit 1 saying why: a test
 * that asks for the daemon learns that it did not get it instead of comparing a direct run with
 * a direct run.
 */
function notServed(why: string, mode: Mode, stdin?: string): DaemonOutcome {
  if (mode.required) {
    const error = new BurnError('internal', `the burn run daemon did not serve the call: ${why} (BURN_DAEMON=require)`)
    return {code: renderError(error, mode.json)}
  }
  if (mode.debug) writeAllSync(2, `burn: debug: the call runs directly: ${why}\n`)
  return {direct: true, stdin}
}

function currentDir(): string | undefined {
  try {
    return process.cwd()
  } catch {
    return undefined // removed (ENOENT from uv_cwd)
  }
}

/**
 * BURN_DAEMON=require: a call is served by the run daemon or fails with exit 1 saying why, never
 * run directly (tests use it to know a call went through a daemon runner); only a cache dir
 * without a store is left to the direct path, whose store error is the answer.
 */
const daemonRequired = (env: NodeJS.ProcessEnv) => env.BURN_DAEMON === 'require'

/**
 * How long a daemon may send nothing before this client gives up on it: SILENCE_MS, or
 * BURN_DAEMON_SILENCE_MS (whole milliseconds, at least the keepalive period; tests use it so a
 * stopped daemon costs them seconds, not 15 s each). Client-side only: no daemon reads it.
 */
function silenceMs(env: NodeJS.ProcessEnv): number {
  const ms = Number(env.BURN_DAEMON_SILENCE_MS)
  return Number.isSafeInteger(ms) && ms >= 2 * KEEPALIVE_MS ? ms : SILENCE_MS
}

/** true: a trusted socket is there; undefined: none (a daemon is started); else why it is not used. */
async function findSocket(paths: DaemonPaths, wait: boolean): Promise<true | string | undefined> {
  const until = Date.now() + (wait ? REQUIRE_WAIT_MS : 0)
  for (let started = false; ; started = true) {
    try {
      return socketProblem(paths.socket) ?? true
    } catch {
      // no socket yet
    }
    if (!started) startDaemon(paths)
    if (Date.now() >= until) return undefined
    await new Promise((r) => setTimeout(r, 25))
  }
}

function connect(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const sock = createConnection(path)
    sock.once('connect', () => resolve(sock))
    sock.once('error', () => resolve(undefined))
  })
}

/**
 * Why a call through the daemon did not end with its exit code. `relayed`: some of its output,
 * stdout or stderr, was already written here. Once anything was, the call is never run again
 * directly: the rerun would print its console lines (or result) a second time, and holding
 * every byte back until the exit code instead would cost a streaming call its memory bound
 * (relay.ts: backpressure) and its console lines their timing. It fails with exit 1 instead.
 */
type Failure = {hung: boolean; relayed: boolean}

/**
 * Relays the call's frames to this process's stdout and stderr. A daemon that sends nothing,
 * not even its keepalives, for SILENCE_MS (stopped with SIGSTOP, or stuck) is given up on, as is
 * one whose connection closes before the exit code. Silence is measured from the last frame
 * handled, so time this client spent blocked writing to a slow reader never counts; nor does
 * time this client itself was not running (a loaded machine, a SIGSTOP of the client): a timer
 * that fires late gives the daemon a grace period instead. A timer runs before the socket's waiting bytes are
 * read in the same loop turn, so the verdict waits one turn (setImmediate) for them.
 */
function relay(sock: Socket, call: DaemonCall): Promise<{code: number} | {failed: Failure}> {
  return new Promise((resolve) => {
    const reader = new FrameReader()
    let relayed = false
    let code: number | undefined
    let hung = false
    let heard = Date.now()
    const silence = silenceMs(process.env)
    const quiet = () => Date.now() - heard
    const watch = (): NodeJS.Timeout => {
      const due = Date.now() + silence - quiet()
      return setTimeout(() => {
        if (Date.now() - due > STALL_SLACK_MS) heard = Math.max(heard, Date.now() - silence + STALL_GRACE_MS)
        if (quiet() < silence) return void (timer = watch())
        setImmediate(() => {
          if (quiet() < silence) return void (timer = watch())
          hung = true
          sock.destroy()
        })
      }, due - Date.now())
    }
    let timer = watch()
    sock.on('data', (chunk: Buffer) => {
      let frames
      try {
        frames = reader.push(chunk)
      } catch {
        return sock.destroy()
      }
      for (const f of frames) {
        if (f.type === 'o' || f.type === 'e') {
          relayed = true
          writeAllSync(f.type === 'o' ? 1 : 2, f.payload)
        } else if (f.type === 'x') code = Number(f.payload.toString())
      }
      heard = Date.now()
    })
    sock.on('error', () => {})
    sock.on('close', () => {
      clearTimeout(timer)
      resolve(code === undefined ? {failed: {hung, relayed}} : {code})
    })
    sock.write(frame('R', JSON.stringify(call)), () => (heard = Date.now()))
  })
}

/**
 * The daemon went away or stopped answering mid-call. Scripts are functions of their input, so
 * the call runs again directly, said on stderr and counted (`burn stats`: daemon.fallbacks), so
 * a daemon that fails is never silent; unless some of its output already went out (Failure) or
 * BURN_DAEMON=require forbids it: then the call fails with exit 1, saying why.
 */
async function abandon(f: Failure, paths: DaemonPaths, call: DaemonCall, mode: Mode): Promise<DaemonOutcome> {
  const what = f.hung
    ? `the burn run daemon sent nothing for ${silenceMs(process.env) / 1000}s`
    : 'the burn run daemon stopped during the call'
  if (f.relayed || mode.required) {
    const why = f.relayed ? 'part of its output was already printed' : 'BURN_DAEMON=require'
    return {
      code: renderError(new BurnError('internal', `${what} (${why}); run it again (burn daemon stop ends a stuck daemon)`), mode.json),
    }
  }
  await countFallback(paths.layout)
  writeAllSync(2, `burn: ${what}; the call runs directly (burn daemon stop ends a stuck daemon)\n`)
  return {direct: true, stdin: call.stdin ?? undefined}
}

async function countFallback(layout: Layout): Promise<void> {
  try {
    // (loaded only now: a chunk of its own in the fast path's bundle)
    const {recordStats} = await import('../../store/stats/stats.js')
    await recordStats(layout, {counters: {'daemon.fallbacks': 1}})
  } catch {
    // counting is best effort
  }
}

function startDaemon(paths: DaemonPaths): void {
  try {
    if (Date.now() - statSync(paths.lock).mtimeMs < LOCK_FRESH_MS) return
  } catch {
    // no lock: no daemon
  }
  // Only for an existing store: a run against a missing one fails, and must not create it.
  if (!existsSync(paths.layout.storeJson)) return
  try {
    childProcess()
      .spawn(process.execPath, [...process.execArgv, DAEMON_JS, paths.layout.root, paths.socket, paths.lock], {
        detached: true,
        stdio: 'ignore',
      })
      .unref()
  } catch {
    // the daemon is an optimisation: this call runs directly either way
  }
}
