import {statSync} from 'node:fs'
import {resolve} from 'node:path'
import {Layout} from '../../store/layout.js'
import {RUN_CHILD} from '../bundles.js'
// (not node:crypto: loading it is ~7 ms of every `burn run` through the daemon; the same digest: util/hash.ts)
import {sha256} from '../../util/hash.js'

// A Unix socket path holds at most 107 bytes on Linux (103 on macOS); the daemon binds its socket
// under a name one byte longer first (server.ts).
const MAX_SOCKET_PATH = 100

/**
 * The variables that choose the daemon itself rather than change what a call does (BURN_DEBUG:
 * what the client says; BURN_DAEMON_SILENCE_MS: how long the client waits on a silent daemon).
 */
const DAEMON_OWN = new Set(['BURN_CACHE_DIR', 'BURN_DAEMON', 'BURN_DAEMON_IDLE', 'BURN_DAEMON_SILENCE_MS', 'BURN_DEBUG'])

/**
 * Whether a `burn run` in this environment may go through the run daemon: only BURN_DAEMON=off
 * opts out. The debugging and test knobs (BURN_FAULT, BURN_LOCK_*, ...) do not turn it off:
 * they are part of the daemon's key (below), so a call that sets them reaches a daemon, and
 * runners, started with the same knobs, and tests that set them still test the daemon path.
 */
export function daemonAllowed(env: NodeJS.ProcessEnv): boolean {
  return !/^(off|0|false|no)$/i.test(env.BURN_DAEMON ?? '')
}

function knob(k: string): boolean {
  return k.startsWith('BURN_') && !DAEMON_OWN.has(k)
}

/**
 * Everything outside the call's own arguments that can change a run's outcome: the node
 * binary and its flags, burn's own build, and the environment a script can observe (time
 * zone, locale) or that configures node, and burn's own knobs. A daemon serves only clients
 * with the same key: its socket's name is this key's digest.
 */
function daemonKey(env: NodeJS.ProcessEnv): string {
  const build = (() => {
    try {
      const s = statSync(RUN_CHILD)
      return `${RUN_CHILD}:${s.size}:${s.mtimeMs}`
    } catch {
      return RUN_CHILD
    }
  })()
  const vars = Object.keys(env)
    .filter((k) => k === 'TZ' || k === 'LANG' || k === 'LANGUAGE' || k.startsWith('LC_') || k.startsWith('NODE_') || knob(k))
    .sort()
    .map((k) => `${k}=${env[k]}`)
  const key = JSON.stringify([process.execPath, process.version, process.execArgv, build, vars])
  return sha256(key).slice(0, 20)
}

export interface DaemonPaths {
  /** the store's layout, at the cache dir's absolute path */
  layout: Layout
  socket: string
  lock: string
}

/** Where the daemon for this cache dir and environment listens; undefined when its socket path would be too long. */
export function daemonPaths(cacheDir: string, env: NodeJS.ProcessEnv): DaemonPaths | undefined {
  const layout = new Layout(resolve(cacheDir))
  const key = daemonKey(env)
  const socket = layout.daemonSocket(key)
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) return undefined
  return {layout, socket, lock: layout.daemonLock(key)}
}
