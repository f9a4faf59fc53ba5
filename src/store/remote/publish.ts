import {decodeArtifact} from '../../engines/artifact.js'
import {engineTag} from '../../engines/tag.js'
import {eachConcurrently} from '../../util/each-concurrently.js'
import {loadXxh64, sha256} from '../../util/hash.js'
import {readRegular} from '../../util/read-regular.js'
import {registeredEngines} from '../engine-trust.js'
import {recordStats} from '../stats/stats.js'
import type {Store} from '../store.js'
import type {RemoteEntry} from './backend.js'
import type {RemoteSession} from './session.js'
import {sealCompiled, signEngines, signName} from './signing.js'

/*
 * Publishing what the local store holds: a script's source, its compiled form for each engine
 * it is registered for (this machine's engine tag), and, only when BURN_REMOTE_KEY is set, its
 * sealed v8 form, signed engine binding and names (unsigned ones would be refused by every
 * reader anyway).
 * Only what verifies locally is published, so a damaged local store never spreads.
 */

export interface PublishItem {
  hash: string
  names?: string[]
}

/** Publishes each script (read-write mode only); returns how many values the remote took. */
export async function publishScripts(store: Store, session: RemoteSession, items: PublishItem[], concurrency = 8): Promise<number> {
  if (!session.writable) return 0
  let total = 0
  await eachConcurrently(items, concurrency, async (item) => {
    if (!session.available) return
    const entries = await localEntries(store, item, session.config.key)
    if (entries.length === 0) return
    const r = await session.use((b) => b.publish(entries))
    if (r === undefined) return
    total += r.written
    session.counters.published += r.written
    session.counters.bytesOut += r.bytes
  })
  return total
}

async function localEntries(store: Store, item: PublishItem, key: string | undefined): Promise<RemoteEntry[]> {
  const {layout} = store
  const {hash} = item
  const source = await readRegular(layout.object(hash)).catch(() => undefined)
  if (source === undefined || sha256(source) !== hash) return []
  const entries: RemoteEntry[] = [{kind: 'source', hash, bytes: source}]
  const engines = await registeredEngines(layout, hash)
  const xxh = await loadXxh64()
  for (const engine of engines) {
    // a v8 form is used elsewhere only sealed with the key (signing.ts): without one it stays here
    if (engine === 'v8' && !key) continue
    const tag = engineTag(engine)
    const bytes = await readRegular(layout.compiled(tag, hash)).catch(() => undefined)
    if (bytes === undefined) continue
    const d = decodeArtifact(bytes, {tag, sourceHash: hash}, xxh)
    if (!d.ok || d.meta.sourceLength !== source.length || d.meta.sourceXxh !== xxh(source)) continue
    entries.push({kind: 'compiled', tag, hash, bytes: engine === 'v8' ? sealCompiled(tag, hash, bytes, key!) : bytes})
  }
  if (key) {
    entries.push({kind: 'engines', hash, bytes: signEngines(hash, engines, key)})
    for (const name of item.names ?? []) entries.push({kind: 'name', name, bytes: signName(name, hash, key)})
  }
  return entries
}

/** The remote's counters into the store's stats (one delta file), if any moved. */
export async function recordRemoteStats(store: Store, session: RemoteSession): Promise<void> {
  const delta = session.delta()
  if (Object.keys(delta).length > 0) await recordStats(store.layout, {counters: delta}).catch(() => {})
}
