import {spawn} from 'node:child_process'
import {existsSync, statSync} from 'node:fs'
import {createConnection, type Socket} from 'node:net'
import {join} from 'node:path'
import {defaultCacheDir} from '../../lib/cache-dir.js'
import {EXIT} from '../../lib/exit-codes.js'
import {readStdin, readsStdin} from '../input.js'
import type {RunFlags} from '../run-argv.js'
import {writeAllSync} from '../../lib/write-sync.js'
import {frame, FrameReader, type PooledRequest} from './protocol.js'
import {DAEMON_JS} from '../bundles.js'
import {daemonAllowed, daemonPaths, type DaemonPaths} from './where.js'

/** The call ran (its exit code), or it must run directly (with the stdin already read, if any). */
export type DaemonOutcome = {code: number} | {direct: true; stdin?: string}

// A daemon lock touched this recently belongs to a daemon that is starting or running.
const LOCK_FRESH_MS = 5000

/**
 * `burn run` through the run daemon of its cache dir (daemon/server.ts), which keeps a runner
 * process started and its likely script loaded, so a call costs this client's start and the
 * script's own work. No daemon yet: one is started in the background and this call runs
 * directly, as do calls the daemon may not serve (daemonAllowed).
 */
export async function runViaDaemon(argv: string[], flags: RunFlags): Promise<DaemonOutcome> {
  if (!daemonAllowed(process.env)) return {direct: true}
  const paths = daemonPaths(flags['cache-dir'] ?? defaultCacheDir(), process.env)
  if (!paths) return {direct: true}
  if (!existsSync(paths.socket)) {
    startDaemon(paths)
    return {direct: true}
  }
  // stdin first, then the connection: a client waiting on slow input holds no connection the
  // daemon could close under it (idle timeout, `burn daemon stop`).
  const stdin = readsStdin(flags, Boolean(process.stdin.isTTY)) ? await readStdin() : null
  const sock = await connect(paths.socket)
  if (!sock) {
    startDaemon(paths)
    return {direct: true, stdin: stdin ?? undefined}
  }
  const req: PooledRequest = {argv: [`--cache-dir=${paths.cacheDir}`, ...argv], cwd: process.cwd(), stdin}
  return relay(sock, req)
}

function connect(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const sock = createConnection(path)
    sock.once('connect', () => resolve(sock))
    sock.once('error', () => resolve(undefined))
  })
}

function relay(sock: Socket, req: PooledRequest): Promise<DaemonOutcome> {
  return new Promise((resolve) => {
    const reader = new FrameReader()
    let wroteStdout = false
    let code: number | undefined
    sock.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (f.type === 'o') {
          wroteStdout = true
          writeAllSync(1, f.payload)
        } else if (f.type === 'e') writeAllSync(2, f.payload)
        else if (f.type === 'x') code = Number(f.payload.toString())
      }
    })
    sock.on('error', () => {})
    sock.on('close', () => {
      if (code !== undefined) return resolve({code})
      // The daemon went away mid-call. Scripts are functions of their input, so running the
      // call again directly is safe, unless part of its result already went out.
      if (!wroteStdout) return resolve({direct: true, stdin: req.stdin ?? undefined})
      writeAllSync(2, 'Error: the burn run daemon stopped during the call; run it again\n')
      resolve({code: EXIT.internal})
    })
    sock.write(frame('R', JSON.stringify(req)))
  })
}

function startDaemon(paths: DaemonPaths): void {
  try {
    if (Date.now() - statSync(paths.lock).mtimeMs < LOCK_FRESH_MS) return
  } catch {
    // no lock: no daemon
  }
  // Only for an existing store: a run against a missing one fails, and must not create it.
  if (!existsSync(join(paths.cacheDir, 'store.json'))) return
  try {
    spawn(process.execPath, [...process.execArgv, DAEMON_JS, paths.cacheDir, paths.socket, paths.lock], {detached: true, stdio: 'ignore'}).unref()
  } catch {
    // the daemon is an optimisation: this call runs directly either way
  }
}
