import {fileURLToPath} from 'node:url'
import {refuseFuel} from '../cli/limits.js'
import type {Job, JobResult, Limits} from '../engines/protocol.js'
import {showScript, listScripts} from '../maintenance/catalog.js'
import {forgetScript} from '../maintenance/forget.js'
import {gcStore} from '../maintenance/gc.js'
import {statsReport} from '../maintenance/stats-report.js'
import {verifyStore} from '../maintenance/verify.js'
import {registerMany} from '../register/register-many.js'
import {DEFAULT_MAX_SOURCE, expandSources, sourceTooLarge, type SourceInput} from '../register/sources.js'
import {defaultCacheDir} from '../store/cache-dir.js'
import type {RemoteFlags} from '../store/remote/config.js'
import {exists, openStore, type Store} from '../store/store.js'
import {parseConcurrency} from '../util/concurrency.js'
import {badDataError, BurnError, usageError} from '../util/errors.js'
import type {ExitKind} from '../util/exit-codes.js'
import {parseDuration, parseSize} from '../util/units.js'
import {batchRows, type Caller} from './batch.js'
import {callLimits, hasLimits} from './limits.js'
import {callError, ScriptTable, type Script} from './scripts.js'
import {Tally} from './tally.js'
import type * as T from './types.js'
import {closedError, WarmPool} from './warm-pool.js'

const DEFAULT_MAX_IN_FLIGHT = 1024
const DEFAULT_WARM_SCRIPTS = 64
const DEFAULT_WARM_GROWTH = 256 * 1024 * 1024

/** Opens the store at `cacheDir` (the CLI's store: scripts registered by either run through both) and its warm pool. */
export async function openCache(opts: T.CacheOptions = {}): Promise<T.BurnCache> {
  const cache = new Cache(opts)
  await cache.open()
  return cache
}

class Cache implements T.BurnCache, Caller {
  readonly cacheDir: string
  readonly concurrency: number
  private opened?: Store
  private created = false
  private readonly remote?: RemoteFlags
  private readonly defaults: Limits
  private readonly pool: WarmPool
  private readonly scripts: ScriptTable
  private readonly tally: Tally
  private readonly ops = new Set<Promise<unknown>>()
  private closing?: Promise<void>

  constructor(private readonly opts: T.CacheOptions) {
    this.cacheDir = opts.cacheDir ?? defaultCacheDir()
    this.remote = opts.remote === undefined ? undefined : {remote: opts.remote}
    this.concurrency = parseConcurrency(opts.concurrency)
    this.defaults = callLimits(undefined, opts.limits)
    const growth = opts.warm?.growth
    this.pool = new WarmPool({
      concurrency: this.concurrency,
      isolation: opts.isolation ?? 'instance',
      maxInFlight: positive(opts.maxInFlight, 'maxInFlight') ?? DEFAULT_MAX_IN_FLIGHT,
      keepScripts: positive(opts.warm?.scripts, 'warm.scripts') ?? DEFAULT_WARM_SCRIPTS,
      growthBytes: growth === undefined ? DEFAULT_WARM_GROWTH : parseSize(String(growth), 'warm.growth'),
    })
    if (opts.isolation !== undefined && opts.isolation !== 'instance' && opts.isolation !== 'call')
      throw usageError(`invalid isolation ${JSON.stringify(opts.isolation)}: expected 'instance' or 'call'`)
    this.scripts = new ScriptTable(() => this.store(), this.cacheDir, this.remote)
    this.tally = new Tally(() => this.store())
  }

  /** An existing store is checked now (trust, format: exit 8); a missing one is created by the first register. */
  async open(): Promise<void> {
    await this.store()
  }

  /** The store; `create` (register, stats --zero) makes it first if needed: an empty cache dir opens without its directories. */
  private async store(create = false): Promise<Store | undefined> {
    if (create && !this.created) {
      this.opened = await openStore(this.cacheDir, {create})
      this.created = true
    }
    this.opened ??= await openStore(this.cacheDir, {create})
    return this.opened
  }

  fence(): void {
    if (this.closing) throw closedError()
  }

  /** Anything but a call: refused once closing, awaited by close(). */
  private async op<R>(fn: () => Promise<R>): Promise<R> {
    this.fence()
    const p = fn()
    this.ops.add(p)
    try {
      return await p
    } finally {
      this.ops.delete(p)
    }
  }

  script(ref: string, opts?: T.CallOptions): Promise<Script> {
    return this.scripts.get(ref, opts?.engine)
  }

  limits(opts: T.CallOptions | undefined, script: Script): Limits {
    if (hasLimits(opts)) return callLimits(opts, this.opts.limits, script.engine)
    // (a cache-wide fuel on a v8 script is refused as a call's own is: never silently no budget)
    refuseFuel(this.defaults.fuel, script.engine)
    return this.defaults
  }

  admit(): () => void {
    return this.pool.admit()
  }

  exec(script: Script, job: Extract<Job, {op: 'run'}>): Promise<JobResult> {
    return this.pool.exec(job).then((result) => {
      this.tally.add(script.store, script.hash, script.tag, result)
      return result
    })
  }

  /**
   * A warm call allocates as little as it can: no async frame between here and the runner when
   * the script was resolved a moment ago (ScriptTable.ready). At over 10,000 calls a second, the
   * caller's GC pauses hold up every call in flight, and they are what the p99 is made of
   * (bench/api.mjs).
   */
  runJson(ref: string, inputJson: string, opts?: T.CallOptions): Promise<string> {
    if (typeof inputJson !== 'string') return Promise.reject(usageError('runJson takes JSON text; pass a value to run() instead'))
    let release: () => void
    try {
      release = this.pool.admit()
    } catch (error) {
      return Promise.reject(error)
    }
    const ready = this.scripts.ready(ref, opts?.engine)
    const out = ready ? attempt(() => this.call(ready, inputJson, opts)) : this.script(ref, opts).then((s) => this.call(s, inputJson, opts))
    return out.then(
      (text) => {
        release()
        return text
      },
      (error: unknown) => {
        release()
        throw error
      },
    )
  }

  private call(script: Script, input: string, opts: T.CallOptions | undefined): Promise<string> {
    const {hash, engine, tag, sourcePath, compiledPath} = script
    const limits = this.limits(opts, script)
    return this.exec(script, {op: 'run', engine, tag, hash, sourcePath, compiledPath, input, limits}).then((result) => {
      if (result.ok) return result.output ?? (result.outputBytes ? Buffer.from(result.outputBytes).toString('utf8') : 'null')
      throw callError(result, script)
    })
  }

  async run<R = unknown>(ref: string, input?: unknown, opts?: T.CallOptions): Promise<R> {
    let text: string | undefined
    try {
      text = JSON.stringify(input)
    } catch (error) {
      throw badDataError(`invalid JSON input: ${(error as Error).message}`)
    }
    return JSON.parse(await this.runJson(ref, text ?? 'null', opts)) as R
  }

  batch<R = unknown>(ref: string, rows: Iterable<unknown> | AsyncIterable<unknown>, opts?: T.BatchOptions): AsyncIterableIterator<R> {
    return batchRows<R>(this, ref, rows, opts)
  }

  register(sourceOrFile: string | URL | T.SourceText, opts: T.RegisterOptions = {}): Promise<T.RegisterOutcome> {
    return this.op(async () => {
      const maxSource = opts.maxSource === undefined ? DEFAULT_MAX_SOURCE : parseSize(String(opts.maxSource), '--max-source')
      const input = await sourceInput(sourceOrFile, maxSource)
      const store = (await this.store(true))!
      const [item] = await registerMany(store, [input], {
        name: opts.name,
        engine: opts.engine,
        limits: this.defaults,
        concurrency: 1,
        remote: this.remote,
      })
      // a name may point elsewhere now
      this.scripts.clear()
      if (!item.ok) throw new BurnError(item.failure.kind as ExitKind, item.failure.message, {file: item.failure.file})
      return item.outcome
    })
  }

  forget(ref: string): Promise<T.ForgetOutcome> {
    return this.op(async () => {
      const outcome = await forgetScript(await this.store(), ref)
      this.scripts.clear()
      return outcome
    })
  }

  list(): Promise<T.ScriptInfo[]> {
    return this.op(async () => {
      const store = await this.store()
      return store ? listScripts(store) : []
    })
  }

  show(ref: string): Promise<T.ShowResult> {
    return this.op(async () => {
      const {info, hash, source} = await showScript(await this.store(), ref)
      return {...info, hash, source}
    })
  }

  stats(opts: {zero?: boolean} = {}): Promise<T.StatsReport | null> {
    return this.op(async () => {
      await this.tally.flush()
      const store = await this.store(opts.zero)
      return store ? statsReport(store, {zero: opts.zero}) : null
    })
  }

  verify(opts: T.VerifyOptions = {}): Promise<T.VerifyReport | null> {
    return this.op(async () => ((await exists(this.cacheDir)) ? verifyStore(this.cacheDir, opts) : null))
  }

  gc(opts: T.GcOptions = {}): Promise<T.GcReport | null> {
    return this.op(async () => {
      const age = (v: number | string | undefined, flag: string) => (v === undefined ? undefined : parseDuration(String(v), flag))
      const size = (v: number | string | undefined, flag: string) => (v === undefined ? undefined : parseSize(String(v), flag))
      const parsed = {
        dryRun: opts.dryRun,
        keepForeign: opts.keepForeign,
        tmpAgeMs: age(opts.tmpAge ?? '1h', '--tmp-age'),
        maxSize: size(opts.maxSize, '--max-size'),
        olderThanMs: age(opts.olderThan, '--older-than'),
      }
      const store = await this.store()
      return store ? gcStore(store, parsed) : null
    })
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.pool.close()
      await Promise.allSettled(this.ops)
      await this.tally.end()
    })()
    return this.closing
  }
}

/** fn's promise, or its synchronous throw as a rejection. */
function attempt<R>(fn: () => Promise<R>): Promise<R> {
  try {
    return fn()
  } catch (error) {
    return Promise.reject(error)
  }
}

function positive(n: number | undefined, what: string): number | undefined {
  if (n === undefined) return undefined
  if (!Number.isSafeInteger(n) || n < 1) throw usageError(`invalid ${what} ${n}: expected a whole number of at least 1`)
  return n
}

/** register's argument: a path (or file: URL) read as `burn register <file>` reads it, or text and bytes as they are. */
async function sourceInput(s: string | URL | T.SourceText, maxSource: number): Promise<SourceInput> {
  if (typeof s === 'string' || s instanceof URL) {
    const file = typeof s === 'string' ? s : fileURLToPath(s)
    const noStdin = () => Promise.reject(usageError('register reads no stdin: pass {source} to register text'))
    const inputs = await expandSources([file], noStdin, maxSource)
    if (inputs.length !== 1) throw usageError(`register takes one file; ${file} matches ${inputs.length}: register each`)
    return inputs[0]
  }
  const bytes = typeof s.source === 'string' ? Buffer.from(s.source, 'utf8') : s.source
  const file = s.file ?? '<source>'
  if (bytes.length > maxSource) throw sourceTooLarge(file, maxSource)
  return {file, read: async () => bytes}
}
