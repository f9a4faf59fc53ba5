import {existsSync} from 'node:fs'
import {readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {eachConcurrently} from '../../util/each-concurrently.js'
import {loadXxh64} from '../../util/hash.js'
import {readRegular} from '../../util/read-regular.js'
import {writeAtomic} from '../atomic.js'
import {FULL_HASH, type Layout} from '../layout.js'
import {decodeResult} from '../results/format.js'
import {isPackKey, packScope} from '../results/rows.js'
import {checkParents} from '../store-trust.js'
import type {RemoteEntry} from './backend.js'
import type {RemoteSession} from './session.js'
import {openFetchedResult, publishSealedResult} from './results.js'

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
/**
 * The most bytes of packs one batch fetches, newest packs first: a scope (script, engine,
 * --fuel) gathers a pack per batch over any input, and a fresh machine need not download them
 * all before its first row. Rows of the packs left out are computed, or found locally.
 */
export const ROW_PACKS_BUDGET = 512 * 1024 * 1024

/**
 * Brings the packs of `scope` that the remote lists and this store lacks into the store, newest
 * first (the key's time digits), within ROW_PACKS_BUDGET. The first pack that fails a check ends
 * the fetching: an honest remote never serves one, and a writer without the key must not make
 * every batch download junk (after a change of key, the newest packs, sealed with the new one,
 * still come first). A listed key the server no longer holds leaves the set (read-write mode);
 * one that failed stays: a machine with a stale key must not unlist everyone's packs.
 */
export async function fetchRowPacks(layout: Layout, session: RemoteSession, hash: string, scope: string): Promise<void> {
  const listed = await session.use((b) => b.fetchRowPacks(hash, scope))
  if (listed === undefined) return
  // results/, its shard and the script's directory: a link or another user's there is refused (exit 8)
  checkParents(join(layout.resultsOf(hash), 'x'), 3)
  const wanted = listed
    .filter((key) => isPackKey(key, scope) && !existsSync(layout.result(hash, key)))
    .sort()
    .reverse()
  const xxh = await loadXxh64()
  const c = session.counters
  let budget = ROW_PACKS_BUDGET
  let refused = false
  const fetchOne = async (key: string) => {
    const value = await session.use((b) => b.fetchResult(hash, key))
    if (value === undefined) {
      if (!session.available) return
      c.misses++
      if (session.writable) await session.use((b) => b.dropRowPack(hash, scope, key))
      return
    }
    budget -= value.length
    const opened = openFetchedResult(session, hash, key, value, xxh)
    if (!opened || packScope(opened.payload) !== scope) {
      if (opened) c.rejected++
      refused = true
      return
    }
    // (a pack this store cannot take, on a full disk say, is not used: its rows are computed)
    const stored = await writeAtomic(layout.tmpDir, layout.result(hash, key), opened.file, 'result').then(
      () => true,
      () => false,
    )
    if (!stored) return
    c.hits++
    c.memoHits++
  }
  await eachConcurrently(wanted, WIDTH, fetchOne, () => !refused && budget > 0 && session.available)
}

/** The result files of `hash` in this store (`run --memo` results and rows packs), by key. */
export async function storedResultKeys(layout: Layout, hash: string): Promise<string[]> {
  const names = await readdir(layout.resultsOf(hash)).catch(() => [] as string[])
  return names.filter((n) => FULL_HASH.test(n)).sort()
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
      const scope = packScope(decoded.payload)
      const member: RemoteEntry[] =
        scope !== undefined && isPackKey(key, scope) ? [{kind: 'rowPacks', hash, scope, bytes: Buffer.from(key, 'latin1')}] : []
      await publishSealedResult(session, hash, key, file, member)
    },
    () => session.available,
  )
}
