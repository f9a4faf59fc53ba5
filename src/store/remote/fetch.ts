import {decodeArtifact} from '../../engines/artifact.js'
import {engineTag, type EngineName} from '../../engines/tag.js'
import {notFoundError} from '../../util/errors.js'
import {loadXxh64, sha256} from '../../util/hash.js'
import {writeAtomic} from '../atomic.js'
import {lockKey} from '../compiled.js'
import {preferredEngine, recordEngine} from '../engine-trust.js'
import {FULL_HASH, isValidName} from '../layout.js'
import {withLock} from '../lock.js'
import {writeName} from '../names.js'
import {checkScriptDirs, exists, type Store} from '../store.js'
import type {RemoteSession} from './session.js'
import {openCompiled, verifyEngines, verifyName} from './signing.js'

/*
 * A local miss asks the remote: fetch, verify, store. Nothing fetched is trusted for what it
 * says about itself: a source must hash to its key; a compiled form must pass every check a
 * local one does (header and payload checksums, engine tag, the source's hash, length and
 * xxh64), and V8's own when it is loaded, and a v8 one must carry a valid seal; a name and an engine binding count only with a valid
 * signature (signing.ts). Whatever fails is counted (remote.rejected) and dropped, never stored
 * or run: a hostile remote can make burn slower, never wrong. What passes is written with the
 * same atomic writes, locks and order as a register (record, source, compiled form, name), so
 * the next run is a local hit.
 */

export interface Fetched {
  hash: string
  /** The engines the script is now registered for here: the signed binding's, else quickjs only. */
  engines: EngineName[]
  /** The engine tag whose compiled form was asked for, and whether one was accepted. */
  tag: string
  compiled: boolean
}

/** `ref` (a full hash or a name: never a prefix) from the remote; undefined when it has nothing usable. */
export async function fetchRemote(store: Store, session: RemoteSession, ref: string, requested?: EngineName): Promise<Fetched | undefined> {
  if (FULL_HASH.test(ref)) return fetchScript(store, session, ref, requested)
  if (!isValidName(ref)) return undefined
  const record = await session.use((b) => b.fetchName(ref))
  if (record === undefined) {
    if (session.available) session.counters.misses++
    return undefined
  }
  session.counters.bytesIn += record.length
  const v = verifyName(record, ref, session.config.key)
  if (!v.ok) {
    session.counters.rejected++
    if (v.why === 'malformed') return undefined
    throw untrustedName(ref, session, v.why)
  }
  // A name to a script already here: only the name is new.
  const rejectedBefore = session.counters.rejected
  const got = (await exists(store.layout.object(v.value)))
    ? {hash: v.value, engines: [], tag: '', compiled: false}
    : await fetchScript(store, session, v.value, requested)
  if (got === undefined) {
    // a signed name that leads to no source, or to one that fails its hash, is not followed
    if (session.available && session.counters.rejected === rejectedBefore) session.counters.rejected++
    return undefined
  }
  await writeName(store.layout, ref, got.hash)
  return got
}

function untrustedName(name: string, session: RemoteSession, why: 'unsigned' | 'no-key' | 'bad-signature') {
  const reason = {
    unsigned: 'its record carries no signature',
    'no-key': 'no BURN_REMOTE_KEY is set to check its signature',
    'bad-signature': 'its signature does not match BURN_REMOTE_KEY',
  }[why]
  return notFoundError(
    `name ${name} was found on the remote cache ${session.config.shown} but is not used: ${reason}, and a name from a remote is ` +
      `followed only when signed; set BURN_REMOTE_KEY to the key it was published with, or register the script here ` +
      `(\`burn register <file> --name ${name}\`)`,
    {name, remote: session.config.shown, reason: why},
  )
}

async function fetchScript(store: Store, session: RemoteSession, hash: string, requested?: EngineName): Promise<Fetched | undefined> {
  const c = session.counters
  const got = await session.use((b) => Promise.all([b.fetchSource(hash), b.fetchEngines(hash)]))
  if (got === undefined) return undefined
  const [source, binding] = got
  if (source === undefined) {
    c.misses++
    return undefined
  }
  c.bytesIn += source.length + (binding?.length ?? 0)
  if (sha256(source) !== hash) {
    c.rejected++
    return undefined
  }
  const engines = trustedEngines(session, hash, binding)
  const engine = requested !== undefined && (requested === 'quickjs' || engines.includes(requested)) ? requested : preferredEngine(engines)
  const tag = engineTag(engine)
  const compiled = await fetchCompiled(session, {engine, tag, hash, source})
  await storeFetched(store, {hash, source, engines, tag, compiled})
  c.hits++
  return {hash, engines, tag, compiled: compiled !== undefined}
}

/**
 * The compiled form of `source` for (tag, hash), when the remote has one that passes every
 * check (a v8 one sealed with BURN_REMOTE_KEY); undefined otherwise (a rejected one counted).
 * `burn run`'s fetch and `burn register` (instead of compiling) take it from here.
 */
export async function fetchCompiled(
  session: RemoteSession,
  want: {engine: EngineName; tag: string; hash: string; source: Uint8Array},
): Promise<Buffer | undefined> {
  const {engine, tag, hash} = want
  // (a v8 form is used only sealed: with no key to open a seal, nothing usable can come)
  if (engine === 'v8' && !session.config.key) return undefined
  const bytes = await session.use((b) => b.fetchCompiled(tag, hash))
  if (bytes === undefined) return undefined
  session.counters.bytesIn += bytes.length
  const artifact = engine === 'v8' ? openCompiled(bytes, tag, hash, session.config.key) : bytes
  if (artifact !== undefined && (await compiledFits(artifact, tag, hash, want.source))) return artifact
  session.counters.rejected++
  return undefined
}

/** The binding's engines when its signature holds; otherwise the sandbox only. */
function trustedEngines(session: RemoteSession, hash: string, binding: Buffer | undefined): EngineName[] {
  if (binding === undefined) return ['quickjs']
  const v = verifyEngines(binding, hash, session.config.key)
  if (v.ok) return v.value
  // (with a key, a binding that does not verify is a forgery or damage; without one, simply unusable)
  if (session.config.key !== undefined || v.why === 'malformed') session.counters.rejected++
  return ['quickjs']
}

/** Every check checkCompiled makes of a local compiled form, against the fetched source itself. */
async function compiledFits(bytes: Buffer, tag: string, hash: string, source: Uint8Array): Promise<boolean> {
  const xxh = await loadXxh64()
  const d = decodeArtifact(bytes, {tag, sourceHash: hash}, xxh)
  return d.ok && d.meta.sourceLength === source.length && d.meta.sourceXxh === xxh(source)
}

/** Written as a register writes (register/register.ts): under the script's registry lock, record first. */
async function storeFetched(
  store: Store,
  f: {hash: string; source: Buffer; engines: EngineName[]; tag: string; compiled?: Buffer},
): Promise<void> {
  const {layout} = store
  const {hash, tag} = f
  checkScriptDirs(layout, hash, [tag])
  await withLock(layout.lock(lockKey(hash, tag)), {}, async () => {
    // The sandbox first: between the two records the script is quickjs only, the safe side.
    const order = [...f.engines.filter((e) => e === 'quickjs'), ...f.engines.filter((e) => e !== 'quickjs')]
    let first = true
    for (const e of order) {
      await recordEngine(layout, hash, e, first ? () => writeSource(store, hash, f.source) : undefined)
      first = false
    }
    if (f.compiled) await writeAtomic(layout.tmpDir, layout.compiled(tag, hash), f.compiled, 'compiled')
  })
}

async function writeSource(store: Store, hash: string, source: Buffer): Promise<void> {
  if (await exists(store.layout.object(hash))) return
  await writeAtomic(store.layout.tmpDir, store.layout.object(hash), source, 'object')
}
