import {usageError} from '../../util/errors.js'
import {parseDuration, parseSize} from '../../util/units.js'

/*
 * The remote cache's configuration, from the environment (BURN_REMOTE*) and the flags that
 * override it (--remote, --remote-mode). Reading it costs no import and no connection: a run
 * without BURN_REMOTE, or one that is a local hit, never loads a client (store/remote/redis.ts).
 */

export type RemoteMode = 'read-write' | 'read-only' | 'off'
export const REMOTE_MODES: readonly RemoteMode[] = ['read-write', 'read-only', 'off']

/**
 * Short defaults, as ccache's (100 ms connect, 10 s operation): a cache must never cost more
 * than it can save. The connect timeout is larger than ccache's because burn's tests and CI
 * share two cores with other work; a 9 MB source still comes from a LAN well within 5 s.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 500
export const DEFAULT_OPERATION_TIMEOUT_MS = 5000
export const DEFAULT_PREFIX = 'burn:'
/**
 * The largest value a fetch reads (BURN_REMOTE_MAX_VALUE): a longer one is read only to one byte
 * past this and is then rejected by its checks, so a hostile remote cannot make a run child hold a
 * value of any size before its --memory watchdog starts. 64 MiB: 7 typescript.js bundles.
 */
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024

/**
 * How long a run daemon leaves a remote alone after it failed (BURN_REMOTE_COOLDOWN). A process
 * turns a failed remote off until it ends (ccache's rule), but the daemon lives for minutes and
 * starts one runner per call: without a cooldown each call would pay the timeout again, and
 * with the remote off for the daemon's whole life a remote back up would go unused. 30 s is
 * turborepo's breaker (outage_breaker.rs): long enough that a remote that is down costs one
 * timeout per 30 s of calls, not one per call; short against a CI job, so a remote restarted
 * mid-job is used again soon.
 */
export const DEFAULT_COOLDOWN_MS = 30_000

/** BURN_REMOTE_COOLDOWN, or the default; a bad value is the default (the daemon has nobody to tell). */
export function remoteCooldownMs(env: NodeJS.ProcessEnv = process.env): number {
  try {
    return timeout(env.BURN_REMOTE_COOLDOWN, 'BURN_REMOTE_COOLDOWN', DEFAULT_COOLDOWN_MS)
  } catch {
    return DEFAULT_COOLDOWN_MS
  }
}

export interface RemoteConfig {
  /** redis://, rediss:// or unix: as given, password included: never printed (see `shown`). */
  url: string
  /** The same URL with its password replaced by `***`: the only form any output shows. */
  shown: string
  password?: string
  mode: Exclude<RemoteMode, 'off'>
  prefix: string
  /** Seconds a key lives after its last read or write; undefined: no expiry. */
  ttlSec?: number
  connectTimeoutMs: number
  operationTimeoutMs: number
  /** The most bytes a fetch reads of one value (DEFAULT_MAX_VALUE_BYTES). */
  maxValueBytes: number
  /** BURN_REMOTE_KEY: signs and checks name records and engine bindings (signing.ts). */
  key?: string
  /** BURN_REMOTE_CA: a PEM file of CA certificates that rediss:// trusts (a private CA), besides Node's own. */
  ca?: string
}

export interface RemoteFlags {
  remote?: string
  'remote-mode'?: string
}

/** The remote this process uses, or undefined when none is configured or its mode is off. */
export function remoteConfig(env: NodeJS.ProcessEnv = process.env, flags: RemoteFlags = {}): RemoteConfig | undefined {
  const url = flags.remote ?? env.BURN_REMOTE
  const mode = parseMode(flags['remote-mode'] ?? env.BURN_REMOTE_MODE)
  if (url === undefined || url === '' || mode === 'off') return undefined
  const password = env.BURN_REMOTE_PASSWORD || undefined
  checkUrl(url)
  return {
    url,
    shown: redactUrl(url),
    password,
    mode,
    prefix: env.BURN_REMOTE_PREFIX ?? DEFAULT_PREFIX,
    ttlSec: env.BURN_REMOTE_TTL
      ? Math.max(1, Math.round(parseDuration(env.BURN_REMOTE_TTL, 'BURN_REMOTE_TTL', {unit: true}) / 1000))
      : undefined,
    connectTimeoutMs: timeout(env.BURN_REMOTE_CONNECT_TIMEOUT, 'BURN_REMOTE_CONNECT_TIMEOUT', DEFAULT_CONNECT_TIMEOUT_MS),
    operationTimeoutMs: timeout(env.BURN_REMOTE_TIMEOUT, 'BURN_REMOTE_TIMEOUT', DEFAULT_OPERATION_TIMEOUT_MS),
    maxValueBytes: env.BURN_REMOTE_MAX_VALUE ? parseSize(env.BURN_REMOTE_MAX_VALUE, 'BURN_REMOTE_MAX_VALUE') : DEFAULT_MAX_VALUE_BYTES,
    key: env.BURN_REMOTE_KEY || undefined,
    ca: env.BURN_REMOTE_CA || undefined,
  }
}

function parseMode(value: string | undefined): RemoteMode {
  if (value === undefined || value === '') return 'read-write'
  if ((REMOTE_MODES as string[]).includes(value)) return value as RemoteMode
  throw usageError(`invalid remote mode ${JSON.stringify(value)}: expected one of ${REMOTE_MODES.join(', ')}`)
}

function timeout(value: string | undefined, name: string, fallback: number): number {
  return value === undefined || value === '' ? fallback : parseDuration(value, name)
}

const URL_FORMS = /^(rediss?:\/\/|unix:\/\/?\/|redis\+unix:\/\/?\/)/

function checkUrl(url: string): void {
  if (!URL_FORMS.test(url)) {
    throw usageError(
      `invalid remote ${JSON.stringify(redactUrl(url))}: expected redis://[user[:password]@]host[:port][/db], rediss://... (TLS) ` +
        'or unix:///path/to/redis.sock[?db=N]',
    )
  }
}

/** The URL with any password in it replaced: what messages, `remote status` and --json show. */
export function redactUrl(url: string): string {
  // The userinfo ends at the LAST @ before the path (a password may hold an @ of its own).
  return url.replace(/^([a-z+]+:\/\/)([^/?#]*)@/i, (_, scheme: string, auth: string) => {
    const colon = auth.indexOf(':')
    return `${scheme}${colon < 0 ? '***' : auth.slice(0, colon) + ':***'}@`
  })
}

/** A message from the client or the server with the configured secrets taken out, just in case. */
export function scrub(text: string, config: RemoteConfig): string {
  let out = text
  for (const secret of [config.password, passwordOf(config.url), config.key]) {
    if (secret) out = out.split(secret).join('***')
  }
  return out.split(config.url).join(config.shown)
}

function passwordOf(url: string): string | undefined {
  const m = /^[a-z+]+:\/\/[^:/?#@]*:([^/?#]*)@/i.exec(url)
  return m?.[1] ? decodeURIComponent(m[1]) : undefined
}
