import type {CounterDelta} from '../stats/counters.js'
import {writeAllSync} from '../../util/write-sync.js'
import type {RemoteBackend} from './backend.js'
import {scrub, type RemoteConfig} from './config.js'

/*
 * One process's use of the remote. The first failure of any kind (refused, unreachable, auth,
 * a full server, no answer within the timeout) turns the remote off for the rest of the process
 * (ccache's rule), after one warning line on stderr; every caller then goes on locally with the
 * outcome it would have had without a remote. So a remote that is down costs at most one
 * timeout per process and never an exit code.
 */

export interface RemoteCounters {
  hits: number
  /** Of the hits, memoized results (`run --memo`: results.ts). */
  memoHits: number
  misses: number
  errors: number
  rejected: number
  /** Lookups not sent because the run daemon's cooldown was on. */
  skipped: number
  published: number
  bytesIn: number
  bytesOut: number
}

/** Remotes that failed in this process, by URL: off until it ends, whoever asks. */
const failed = new Set<string>()

/**
 * In a run daemon's runner: the remote failed for an earlier call of the daemon, and is left
 * alone for `leftMs` more (config.ts DEFAULT_COOLDOWN_MS). The runner does one call, so this
 * holds for the whole process.
 */
let cooldown: {why: string; leftMs: number; warned: boolean} | undefined

/** Told of this process's first failure of a remote (a run daemon's runner tells its daemon). */
let failureListener: ((why: string) => void) | undefined

export function onRemoteFailure(listener: (why: string) => void): void {
  failureListener = listener
}

/** The run daemon's cooldown, as it handed it to this runner: no remote is asked in this process. */
export function remoteCoolingDown(why: string, leftMs: number): void {
  cooldown = {why, leftMs, warned: false}
}

export class RemoteSession {
  readonly counters: RemoteCounters = {
    hits: 0,
    memoHits: 0,
    misses: 0,
    errors: 0,
    rejected: 0,
    skipped: 0,
    published: 0,
    bytesIn: 0,
    bytesOut: 0,
  }
  private backend?: Promise<RemoteBackend>
  /** Why the remote failed, once it did (`remote status` reports it). */
  failure?: string

  constructor(
    readonly config: RemoteConfig,
    private readonly warn: (line: string) => void = (line) => writeAllSync(2, line),
    private readonly open: (config: RemoteConfig) => Promise<RemoteBackend> = openBackend,
  ) {}

  get writable(): boolean {
    return this.config.mode === 'read-write'
  }

  get available(): boolean {
    return !failed.has(this.config.url) && cooldown === undefined
  }

  /** Runs `fn` on the backend; undefined (and the remote off) if the remote fails. */
  async use<T>(fn: (backend: RemoteBackend) => Promise<T>): Promise<T | undefined> {
    if (cooldown !== undefined) return this.skip(cooldown)
    if (!this.available) return undefined
    try {
      this.backend ??= this.open(this.config)
      return await fn(await this.backend)
    } catch (error) {
      this.fail(error)
      return undefined
    }
  }

  private fail(error: unknown): void {
    const first = this.available
    failed.add(this.config.url)
    this.counters.errors++
    this.failure = scrub((error as Error)?.message ?? String(error), this.config)
    void this.close()
    if (!first) return
    this.warn(`burn: remote cache ${this.config.shown} is unavailable (${this.failure}); going on with the local cache only\n`)
    failureListener?.(this.failure)
  }

  /** One warning line per process, as a failure has: the call says why it did not ask the remote. */
  private skip(c: NonNullable<typeof cooldown>): undefined {
    if (c.warned) return undefined
    c.warned = true
    this.counters.skipped++
    const left = Math.max(1, Math.ceil(c.leftMs / 1000))
    this.warn(
      `burn: remote cache ${this.config.shown} is not asked for ${left} s more: it failed for an earlier call (${c.why}); ` +
        'going on with the local cache only\n',
    )
    return undefined
  }

  /** Closes the connection (an open socket would keep a run's event loop alive). */
  async close(): Promise<void> {
    const b = this.backend
    this.backend = undefined
    if (b) await b.then((x) => x.close()).catch(() => {})
  }

  /** The counters of `burn stats`, only those that moved. */
  delta(): CounterDelta {
    const c = this.counters
    const all: CounterDelta = {
      'remote.hits': c.hits,
      'remote.memoHits': c.memoHits,
      'remote.misses': c.misses,
      'remote.errors': c.errors,
      'remote.rejected': c.rejected,
      'remote.skipped': c.skipped,
      'remote.published': c.published,
      'remote.bytesIn': c.bytesIn,
      'remote.bytesOut': c.bytesOut,
    }
    return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== 0))
  }
}

/** The backend a URL names; only Redis so far (an S3 or HTTP one would be chosen here). */
async function openBackend(config: RemoteConfig): Promise<RemoteBackend> {
  const {openRedis} = await import('./redis.js')
  return openRedis(config)
}
