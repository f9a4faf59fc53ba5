import {existsSync} from 'node:fs'
import {readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {eachConcurrently} from '../../util/each-concurrently.js'
import {loadXxh64} from '../../util/hash.js'
import {readRegular} from '../../util/read-regular.js'
import {writeAtomic} from '../atomic.js'
import type {Layout} from '../layout.js'
import {decodeResult} from '../results/format.js'
import {isPackKey, packScope} from '../results/rows.js'
import {checkParents} from '../store-trust.js'
import type {RemoteEntry} from './backend.js'
import type {RemoteSession} from './session.js'
import {openResult, sealResult} from './signing.js'

/*
 * Stored result files on the shared remote cache, as files: what `burn push` sends of a
 * script's memoized results, and the rows packs of `batch --memo` (store/results/rows.ts), which
 * a batch on another machine fetches before it looks its rows up. A file travels as a
 * `run --memo` result does (results.ts): sealed with BURN_REMOTE_KEY over (script hash, key,
 * file), under res:<hash>:<key>, and without a key nothing is fetched or published.
 *
 * A rows scope's pack keys are listed in a set, rows:<hash>:<scope>. The set is not signed and
 * need not be: a member is only a name to look up. A member that is not a pack key of the scope
 * is skipped, and a pack fetched must open with the key and pass every check a local file does
 * (both checksums, the hash and key it was asked by, its own scope inside), or it is counted
 * (remote.rejected) and dropped: its rows are then computed, never a wrong result.
 */

/** Files fetched or published at once (a pack is up to ~16 MiB). */
const WIDTH = 4

/** Brings the packs of `scope` that the remote lists and this store lacks into the store. */
export async function fetchRowPacks(layout: Layout, session: RemoteSession, hash: string, scope: string): Promise<void> {
  const listed = await session.use((b) => b.fetchRowPacks(hash, scope))
  if (listed === undefined) return
  // results/, its shard and the script's directory: a link or another user's there is refused (exit 8)
  checkParents(join(layout.resultsOf(hash), 'x'), 3)
  const wanted = listed.filter((key) => isPackKey(key, scope) && !existsSync(layout.result(hash, key))).sort()
  const xxh = await loadXxh64()
  const c = session.counters
  await eachConcurrently(wanted, WIDTH, async (key) => {
    const value = await session.use((b) => b.fetchResult(hash, key))
    if (value === undefined) {
      if (!session.available) return
      c.misses++
      // (a pack the server expired or evicted: its key leaves the set, so no batch asks for it again)
      if (session.writable) await session.use((b) => b.dropRowPack(hash, scope, key))
      return
    }
    c.bytesIn += value.length
    const file = openResult(value, hash, key, session.config.key)
    const decoded = file && decodeResult(file, {hash, key}, xxh)
    if (!file || !decoded?.ok || packScope(decoded.payload) !== scope) {
      c.rejected++
      return
    }
    // (a pack this store cannot take, on a full disk say, is not used: its rows are computed)
    if (
      !(await writeAtomic(layout.tmpDir, layout.result(hash, key), file, 'result').then(
        () => true,
        () => false,
      ))
    )
      return
    c.hits++
    c.memoHits++
  })
}

/** The result files of `hash` in this store (`run --memo` results and rows packs), by key. */
export async function storedResultKeys(layout: Layout, hash: string): Promise<string[]> {
  const names = await readdir(layout.resultsOf(hash)).catch(() => [] as string[])
  return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).sort()
}

/**
 * Publishes the result files `keys` of `hash` (read-write mode and a key only), each only if it
 * checks out here (a damaged local store never spreads); a pack's key joins its scope's set.
 */
export async function publishResultFiles(layout: Layout, session: RemoteSession, hash: string, keys: string[]): Promise<void> {
  const signing = session.config.key
  if (!session.writable || signing === undefined) return
  const xxh = await loadXxh64()
  await eachConcurrently(
    keys,
    WIDTH,
    async (key) => {
      const file = await readRegular(layout.result(hash, key)).catch(() => undefined)
      const decoded = file && decodeResult(file, {hash, key}, xxh)
      if (!file || !decoded?.ok) return
      const bytes = sealResult(hash, key, file, signing)
      // (a reader takes at most this many bytes of a value and rejects a longer one: not worth sending)
      if (bytes.length > session.config.maxValueBytes) return
      const entries: RemoteEntry[] = [{kind: 'result', hash, key, bytes}]
      const scope = packScope(decoded.payload)
      if (scope !== undefined) entries.push({kind: 'rowPacks', hash, scope, bytes: Buffer.from(key, 'latin1')})
      const got = await session.use((b) => b.publish(entries))
      if (got === undefined) return
      session.counters.published += got.written
      session.counters.bytesOut += got.bytes
    },
    () => session.available,
  )
}
