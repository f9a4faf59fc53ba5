import {loadXxh64} from '../../util/hash.js'
import {decodeResult, encodeResult} from '../results/format.js'
import type {MemoRemote} from '../results/memo.js'
import type {Store} from '../store.js'
import type {RemoteEntry} from './backend.js'
import {remoteOrWarn} from './lookup.js'
import {recordRemoteStats} from './publish.js'
import {RemoteSession} from './session.js'
import {openResult, sealResult} from './signing.js'

/*
 * Memoized results (`run --memo`) on the shared remote cache. A result is not content: nothing
 * fetched can be checked against the script and input it claims to be the answer for, so a
 * result travels only sealed with BURN_REMOTE_KEY over (script hash, memo key, the result file)
 * (signing.ts sealResult). Without a key nothing is fetched (no seal could be checked) and
 * nothing is published (every reader would refuse it): the remote is not even configured for
 * memo, and never connected for it. A fetched result must open with the key and then pass every
 * check a local result file does (format.ts: header, both checksums, the script and memo key it
 * was looked up by); anything else is counted (remote.rejected), dropped, and the call runs.
 *
 * Idempotency-key records (results/keys/) are not shared: a key is a name a caller chose, not
 * content, and "the first call with this key" has no meaning a remote can keep across machines
 * (two machines may record one key with two inputs, and a writer of the remote picks which one
 * every other machine sees). A call with both --memo and a key still shares its memo result.
 */

/** A memo lookup's use of the remote, or undefined when no remote is configured with a key. */
export function memoRemote(): (MemoRemote & {finish(store: Store): Promise<void>}) | undefined {
  let session: RemoteSession | null | undefined
  // (the configuration is read on the first local miss only: a memo hit reads nothing of it)
  const open = (): RemoteSession | undefined => {
    if (session === undefined) {
      const config = remoteOrWarn()
      session = config?.key === undefined ? null : new RemoteSession(config)
    }
    return session ?? undefined
  }
  const computed: Array<{hash: string; key: string; output: string}> = []
  return {
    async fetch(hash, key) {
      const s = open()
      return s && fetchResult(s, hash, key)
    },
    computed(hash, key, output) {
      computed.push({hash, key, output})
    },
    async finish(store) {
      const s = computed.length > 0 ? open() : session
      if (!s) return
      try {
        if (s.writable) for (const c of computed) await publishResult(s, c)
      } finally {
        await s.close()
        await recordRemoteStats(store, s)
      }
    },
  }
}

async function fetchResult(session: RemoteSession, hash: string, key: string): Promise<string | undefined> {
  const value = await session.use((b) => b.fetchResult(hash, key))
  // An open socket would keep the call's event loop alive while the script runs (a stalled
  // script must still be seen): a publish after the run connects again.
  await session.close()
  if (value === undefined) {
    if (session.available) session.counters.misses++
    return undefined
  }
  const opened = openFetchedResult(session, hash, key, value, await loadXxh64())
  if (!opened) return undefined
  session.counters.hits++
  session.counters.memoHits++
  return opened.payload.toString('utf8')
}

async function publishResult(session: RemoteSession, r: {hash: string; key: string; output: string}): Promise<void> {
  const file = encodeResult({hash: r.hash, key: r.key}, Buffer.from(r.output, 'utf8'), await loadXxh64())
  await publishSealedResult(session, r.hash, r.key, file)
}

/**
 * A result file fetched from the remote (a `run --memo` result or a rows pack: result-files.ts),
 * used only if it opens with BURN_REMOTE_KEY for exactly this script and key and then passes every
 * check of a local result file; counted (remote.bytesIn, and remote.rejected when it does not).
 */
export function openFetchedResult(
  session: RemoteSession,
  hash: string,
  key: string,
  value: Buffer,
  xxh: (d: Uint8Array) => bigint,
): {file: Buffer; payload: Buffer} | undefined {
  session.counters.bytesIn += value.length
  const file = openResult(value, hash, key, session.config.key)
  const decoded = file && decodeResult(file, {hash, key}, xxh)
  if (!file || !decoded?.ok) {
    session.counters.rejected++
    return undefined
  }
  return {file, payload: decoded.payload}
}

/** Publishes a result file sealed with BURN_REMOTE_KEY (with `more` entries, in one round trip), counted. */
export async function publishSealedResult(
  session: RemoteSession,
  hash: string,
  key: string,
  file: Buffer,
  more: RemoteEntry[] = [],
): Promise<void> {
  const bytes = sealResult(hash, key, file, session.config.key!)
  // (a reader takes at most this many bytes of a value and rejects a longer one: not worth sending)
  if (bytes.length > session.config.maxValueBytes) return
  const got = await session.use((b) => b.publish([{kind: 'result', hash, key, bytes}, ...more]))
  if (got === undefined) return
  session.counters.published += got.written
  session.counters.bytesOut += got.bytes
}
