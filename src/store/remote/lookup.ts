import {BurnError} from '../../util/errors.js'
import {writeAllSync} from '../../util/write-sync.js'
import type {EngineName} from '../../engines/tag.js'
import {runTarget} from '../engine-trust.js'
import {FULL_HASH, isValidName} from '../layout.js'
import {openStore, type Store} from '../store.js'
import {remoteConfig, type RemoteConfig, type RemoteFlags} from './config.js'
import {fetchCompiled, fetchRemote, type Fetched} from './fetch.js'
import {publishScripts, recordRemoteStats, type PublishItem} from './publish.js'
import {RemoteSession} from './session.js'

/*
 * The hooks the commands' paths call: `burn run` (direct and through the run daemon: both run
 * run/child.ts) and `burn register`. Local first, always: the remote is asked only after the
 * local lookup missed a full hash or a name, so a local hit never reads the remote's
 * configuration twice, never connects and never loads a client.
 */

export interface RemoteUse {
  session: RemoteSession
  fetched: Fetched
}

/** The configuration, or undefined; a bad one costs a warning, never the command (failure is never an outage). */
export function remoteOrWarn(flags?: RemoteFlags): RemoteConfig | undefined {
  try {
    return remoteConfig(process.env, flags)
  } catch (error) {
    writeAllSync(2, `burn: remote cache not used: ${(error as Error).message}\n`)
    return undefined
  }
}

/** runTarget (engine-trust.ts), and on a local miss of a full hash or a name, the remote. */
export async function runTargetOrFetch(
  store: Store | undefined,
  cacheDir: string,
  ref: string,
  requested?: EngineName,
  flags?: RemoteFlags,
): Promise<{store: Store | undefined; hash: string; engine: EngineName; remote?: RemoteUse}> {
  try {
    return {store, ...(await runTarget(store, ref, requested))}
  } catch (error) {
    if (!localMiss(error, ref)) throw error
    const config = remoteOrWarn(flags)
    if (config === undefined) throw error
    // (created: an empty or missing cache dir opens without its directories, which the fetch writes into)
    const local = (await openStore(cacheDir, {create: true}))!
    const session = new RemoteSession(config)
    let fetched: Fetched | undefined
    try {
      fetched = await fetchRemote(local, session, ref, requested)
    } finally {
      // An open socket would keep the run's event loop alive (a stalled script must still be seen).
      await session.close()
      if (fetched === undefined) await recordRemoteStats(local, session)
    }
    if (fetched === undefined) throw error
    return {store: local, ...(await runTarget(local, ref, requested)), remote: {session, fetched}}
  }
}

function localMiss(error: unknown, ref: string): boolean {
  if (!(error instanceof BurnError) || error.kind !== 'notFound' || error.data.ref !== ref) return false
  return FULL_HASH.test(ref) || isValidName(ref)
}

/** After a run of a fetched script: a compiled form made here because the remote had none is published. */
export async function afterFetchedRun(store: Store, remote: RemoteUse): Promise<void> {
  const {session, fetched} = remote
  try {
    if (!fetched.compiled && fetched.tag !== '') await publishScripts(store, session, [{hash: fetched.hash}])
  } finally {
    await session.close()
    await recordRemoteStats(store, session)
  }
}

/** `burn register`'s use of the remote: compiled forms fetched instead of compiled, then what it stored published. */
export interface RegisterRemote {
  /** On a local miss only: the verified compiled form of `source` for (tag, hash), if the remote has one. */
  compiled(want: {engine: EngineName; tag: string; hash: string; source: Uint8Array}): Promise<Buffer | undefined>
  /** Publishes what was stored (read-write mode), then records the counters. */
  finish(store: Store, items: PublishItem[]): Promise<void>
}

/**
 * One session for the whole register: a remote that fails while a compiled form is fetched is
 * off for the publish too. The configuration is read only when a local miss or a publish needs
 * it, and nothing connects before.
 */
export function registerRemote(flags?: RemoteFlags): RegisterRemote {
  let session: RemoteSession | null | undefined
  const open = (): RemoteSession | undefined => {
    if (session === undefined) {
      const config = remoteOrWarn(flags)
      session = config === undefined ? null : new RemoteSession(config)
    }
    return session ?? undefined
  }
  return {
    async compiled(want) {
      const s = open()
      const got = s && (await fetchCompiled(s, want))
      if (got !== undefined) s!.counters.hits++
      return got
    },
    async finish(store, items) {
      const s = items.length > 0 ? open() : session
      if (!s) return
      try {
        await publishScripts(store, s, items)
      } finally {
        await s.close()
        await recordRemoteStats(store, s)
      }
    },
  }
}
