import {existsSync} from 'node:fs'
import {engineError} from '../engines/engine-error.js'
import type {JobResult} from '../engines/protocol.js'
import {engineTag, type EngineName} from '../engines/tag.js'
import {notFoundError, type BurnError} from '../util/errors.js'
import type {RemoteFlags} from '../store/remote/config.js'
import {afterFetchedRun, runTargetOrFetch} from '../store/remote/lookup.js'
import {checkScriptDirs, type Store} from '../store/store.js'

/** A script resolved for calls: what a run job names (engines/protocol.ts ScriptFiles). */
export interface Script {
  store: Store
  hash: string
  engine: EngineName
  tag: string
  sourcePath: string
  compiledPath: string
}

/**
 * How long a resolution is reused. A name that another process points elsewhere (`burn register
 * --name`) is seen within this time; a script removed by anyone (`burn forget`, gc) is seen by
 * the calls of the next turn of the event loop, which check that its source is still there.
 */
const REUSE_MS = 1000

interface Entry {
  at: number
  script: Promise<Script>
  /** The script once resolved: ready() answers without an await. */
  value?: Script
}

/**
 * `<ref>` (+ engine) -> the script a call runs, as `burn run` resolves it (runTarget: hash,
 * name or prefix; the registered engine; trust), once per REUSE_MS instead of once per call:
 * resolving reads the names and the engines record, several times the cost of a warm call.
 */
export class ScriptTable {
  private readonly entries = new Map<string, Entry>()
  /** Scripts whose source was seen in this turn of the event loop (present()). */
  private readonly seen = new Set<Script>()

  constructor(
    private readonly store: () => Promise<Store | undefined>,
    private readonly cacheDir: string,
    private readonly remote?: RemoteFlags,
  ) {}

  /** The script `ref` names; calls that await one resolution reach the pool in the order they were made. */
  async get(ref: string, engine?: EngineName): Promise<Script> {
    const key = engine === undefined ? ref : `${ref}\0${engine}`
    const now = performance.now()
    let e = this.entries.get(key)
    if (!e || now - e.at >= REUSE_MS) {
      const script = this.resolve(ref, engine)
      const entry: Entry = {at: now, script}
      this.entries.set(key, (e = entry))
      // ready() answers from the next turn on: the calls awaiting this resolution go first, in order
      script.then(
        (s) => setImmediate(() => (entry.value = s)),
        () => this.entries.get(key) === entry && this.entries.delete(key),
      )
    }
    const s = await e.script
    if (existsSync(s.sourcePath)) return s
    // removed since it was resolved: what the ref means now (most likely a clean "not found", exit 3)
    this.entries.delete(key)
    return this.resolve(ref, engine)
  }

  /**
   * get() without an await, when `ref` was resolved less than REUSE_MS ago and its source is still
   * there; else undefined (call get()). A call answered here reaches the pool before calls made
   * earlier that still wait for their resolution, which could not have gone yet anyway; calls of
   * one ref keep their order (those made while it resolves all wait for that resolution).
   */
  ready(ref: string, engine?: EngineName): Script | undefined {
    const e = this.entries.get(engine === undefined ? ref : `${ref}\0${engine}`)
    if (!e?.value || performance.now() - e.at >= REUSE_MS) return undefined
    return this.present(e.value) ? e.value : undefined
  }

  /**
   * Whether the script's source is still there, asked once per turn of the event loop: the calls
   * made in one turn (a whole batch of callers freed by one read of answers) share one stat,
   * which cost 14% of the caller's time when each call made its own (bench/api.mjs profile).
   */
  private present(s: Script): boolean {
    if (this.seen.has(s)) return true
    if (!existsSync(s.sourcePath)) return false
    if (this.seen.size === 0) setImmediate(() => this.seen.clear())
    this.seen.add(s)
    return true
  }

  /** After a forget (or anything that changes what a ref means) through this cache: resolve again. */
  clear(): void {
    this.entries.clear()
  }

  private async resolve(ref: string, engine?: EngineName): Promise<Script> {
    const local = await this.store()
    const t = await runTargetOrFetch(local, this.cacheDir, ref, engine, this.remote)
    // a fetched script: the remote's session ends and its counters are recorded now, not after a call
    if (t.remote) await afterFetchedRun(t.store!, t.remote).catch(() => {})
    const tag = engineTag(t.engine)
    const {layout} = t.store!
    checkScriptDirs(layout, t.hash, [tag])
    return {
      store: t.store!,
      hash: t.hash,
      engine: t.engine,
      tag,
      sourcePath: layout.object(t.hash),
      compiledPath: layout.compiled(tag, t.hash),
    }
  }
}

/** A failed call as the CLI words it (engine-error.ts); a script removed meanwhile is a clean miss, as in `burn run`. */
export function callError(result: Extract<JobResult, {ok: false}>, script: Script): BurnError {
  const {hash} = script
  if (result.error.kind === 'internal' && !existsSync(script.sourcePath))
    return notFoundError(`script ${hash} was removed while it was being run; register it again`, {hash})
  return engineError(result.error, {hash})
}
