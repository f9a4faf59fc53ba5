import {lstat, utimes} from 'node:fs/promises'
import {writeAtomic} from '../store/atomic.js'
import {checkCompiled, lockKey, publishCompiled} from '../store/compiled.js'
import {storeError} from '../util/errors.js'
import {faultPoint} from '../util/faults.js'
import {sha256} from '../util/hash.js'
import {checkName} from '../store/layout.js'
import {writeName} from '../store/names.js'
import {withLock} from '../store/lock.js'
import {readRegular} from '../util/read-regular.js'
import type {RunnerPool} from '../runners/pool.js'
import {engineError} from '../engines/engine-error.js'
import type {Limits} from '../engines/protocol.js'
import {engineTag, type EngineName} from '../engines/tag.js'
import type {Store} from '../store/store.js'
import {recordEngine, registerEngine} from '../store/engine-trust.js'

export interface RegisterOutcome {
  hash: string
  file: string
  name?: string
  engine: EngineName
  /** Every engine the script is now registered for (trust.ts). */
  engines: EngineName[]
  /** fetched: its compiled form came from the shared remote cache instead of a compile. */
  status: 'hit' | 'compiled' | 'fetched'
  waited: boolean
  compileMs: number
  bytes: number
}

export interface RegisterCounters {
  hits: number
  misses: number
  compiles: number
  compileFailures: number
  compileMs: number
}

/**
 * Registers one source: hash it, and compile it exactly once per engine tag across all
 * processes (the pending registry: the lock holder compiles, the others wait and then find
 * the published form). A syntax error stores nothing. The order of writes (source, then
 * compiled form, then name) means a crash at any point leaves either nothing usable or a
 * source without a compiled form, which the next run or register treats as a miss.
 */
export async function registerSource(
  store: Store,
  pool: RunnerPool,
  opts: {source: Uint8Array; file: string; name?: string; engine?: EngineName; limits: Limits; fetchCompiled?: FetchCompiled},
  counters: RegisterCounters,
): Promise<RegisterOutcome> {
  const {layout} = store
  if (opts.name !== undefined) checkName(opts.name)
  const hash = sha256(opts.source)
  const engine = await registerEngine(layout, hash, opts.engine)
  const tag = engineTag(engine)
  const base = {hash, file: opts.file, name: opts.name, engine, bytes: opts.source.length}

  // Settled under the script's registry lock, name included, hit or not: `burn gc` evicts under
  // the same locks and skips a script whose source was touched since it planned (evict.ts), so
  // a register that succeeds leaves its script stored and its name pointing at it. (A lock wait
  // that times out, a holder alive but stuck for 60 s, proceeds without: that guarantee lapses.)
  return withLock(layout.lock(lockKey(hash, tag)), {}, async (lock) => {
    const waited = lock?.waited ?? true
    let outcome: RegisterOutcome
    if ((await checkCompiled(layout, tag, hash)).state === 'valid' && (await touch(layout.object(hash)))) {
      outcome = {...base, engines: await recordEngine(layout, hash, engine), status: 'hit', waited, compileMs: 0}
      counters.hits++
    } else {
      const c = await compileAndStore(store, pool, {...opts, hash, engine, tag}, counters)
      outcome = {...base, engines: c.engines, status: c.status, waited, compileMs: c.compileMs}
    }
    if (opts.name !== undefined) await writeName(layout, opts.name, hash)
    return outcome
  })
}

/** The shared remote cache's verified compiled form of a source (store/remote/lookup.ts registerRemote). */
export type FetchCompiled = (want: {engine: EngineName; tag: string; hash: string; source: Uint8Array}) => Promise<Buffer | undefined>

/**
 * A miss: the remote's compiled form, else a compile in a runner; then write the record, the
 * source and the compiled form, in that order. Only a v8 form is fetched (sealed, so it is as
 * trusted as the key): a quickjs form is a marker whose compile is register's syntax check,
 * which a remote must not be able to skip (a script with a syntax error would register).
 */
async function compileAndStore(
  store: Store,
  pool: RunnerPool,
  opts: {source: Uint8Array; file: string; limits: Limits; hash: string; engine: EngineName; tag: string; fetchCompiled?: FetchCompiled},
  counters: RegisterCounters,
): Promise<Pick<RegisterOutcome, 'engines' | 'status' | 'compileMs'>> {
  const {layout} = store
  const {hash, engine, tag} = opts
  counters.misses++
  const fetched = engine === 'v8' ? await opts.fetchCompiled?.({engine, tag, hash, source: opts.source}) : undefined
  let compileMs = 0
  let cachedData: Uint8Array | undefined
  if (fetched === undefined) {
    const result = await pool.exec({op: 'compile', engine, tag, hash, source: opts.source, filename: opts.file, limits: opts.limits})
    if (!result.ok) {
      counters.compileFailures++
      throw engineError(result.error, {file: opts.file})
    }
    counters.compiles++
    counters.compileMs += compileMs = result.compileMs
    cachedData = result.cachedData ?? new Uint8Array(0)
  }
  faultPoint('register:compiled')
  const engines = await recordEngine(layout, hash, engine, () => writeObject(store, hash, opts.source))
  faultPoint('register:object-written')
  // (a fetched form is a whole artifact already, checked against this very source)
  if (fetched !== undefined) await writeAtomic(layout.tmpDir, layout.compiled(tag, hash), fetched, 'compiled')
  else await publishCompiled(layout, tag, hash, opts.source, cachedData!)
  // (a source kept from before, e.g. registered for the other engine, is marked used too)
  await touch(layout.object(hash))
  return {engines, status: fetched === undefined ? 'compiled' : 'fetched', compileMs}
}

/**
 * Marks a use of the source for gc's eviction (evict.ts): a utimes that sets its access time
 * and keeps its mtime (the registration time `burn list` shows) changes its ctime, which gc
 * compares. False if the source is gone.
 */
async function touch(path: string): Promise<boolean> {
  try {
    const st = await lstat(path)
    if (!st.isFile()) return false // utimes would follow a symbolic link out of the store
    await utimes(path, Date.now() / 1000, st.mtimeMs / 1000)
    return true
  } catch {
    return false
  }
}

/** Sources are never rewritten: an existing object of the right size is kept as is. */
async function writeObject(store: Store, hash: string, source: Uint8Array): Promise<void> {
  const path = store.layout.object(hash)
  const st = await lstat(path).catch(() => undefined)
  if (st?.isFile() && st.size === source.length && sha256Matches(await readRegular(path).catch(() => undefined), hash)) return
  if (st && !st.isFile()) throw storeError(`${path} is not a file; run \`burn verify --fix\``)
  await writeAtomic(store.layout.tmpDir, path, source, 'object')
}

function sha256Matches(data: Uint8Array | undefined, hash: string): boolean {
  return data !== undefined && sha256(data) === hash
}
