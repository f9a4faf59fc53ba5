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
 * --name`) is seen within this time; a script removed by anyone (`burn forget`, gc) is seen at
 * the next call, which checks that its source is still there.
 */
const REUSE_MS = 1000

interface Entry {
  at: number
  script: Promise<Script>
}

/**
 * `<ref>` (+ engine) -> the script a call runs, as `burn run` resolves it (runTarget: hash,
 * name or prefix; the registered engine; trust), once per REUSE_MS instead of once per call:
 * resolving reads the names and the engines record, several times the cost of a warm call.
 */
export class ScriptTable {
  private readonly entries = new Map<string, Entry>()

  constructor(
    private readonly store: () => Promise<Store | undefined>,
    private readonly cacheDir: string,
    private readonly remote?: RemoteFlags,
  ) {}

  /** Every call awaits the same way, cached or not, so calls reach the pool in the order they were made. */
  async get(ref: string, engine?: EngineName): Promise<Script> {
    const key = engine === undefined ? ref : `${ref}\0${engine}`
    const now = performance.now()
    let e = this.entries.get(key)
    if (!e || now - e.at >= REUSE_MS) {
      const script = this.resolve(ref, engine)
      this.entries.set(key, (e = {at: now, script}))
      script.catch(() => this.entries.get(key)?.script === script && this.entries.delete(key))
    }
    const s = await e.script
    if (existsSync(s.sourcePath)) return s
    // removed since it was resolved: what the ref means now (most likely a clean "not found", exit 3)
    this.entries.delete(key)
    return this.resolve(ref, engine)
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
