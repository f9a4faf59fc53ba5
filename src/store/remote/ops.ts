import {readdir} from 'node:fs/promises'
import {eachConcurrently} from '../../util/each-concurrently.js'
import {BurnError, describeError, usageError} from '../../util/errors.js'
import {FULL_HASH} from '../layout.js'
import {readName} from '../names.js'
import {resolveScript} from '../resolve.js'
import type {Store} from '../store.js'
import type {RemoteStatus} from './backend.js'
import {remoteConfig, type RemoteConfig, type RemoteFlags} from './config.js'
import {fetchRemote} from './fetch.js'
import {publishScripts, recordRemoteStats} from './publish.js'
import {publishResultFiles, storedResultKeys} from './result-files.js'
import {RemoteSession} from './session.js'

/* What `burn remote status`, `burn push` and `burn pull` do (their commands only parse and render). */

/** The remote a command was explicitly asked to use: none configured is a usage error (exit 2). */
export function requiredRemote(flags: RemoteFlags): RemoteConfig {
  const config = remoteConfig(process.env, flags)
  if (config === undefined) {
    throw usageError(
      'no remote cache is configured (or its mode is off): set BURN_REMOTE or pass --remote <url> (README, "Shared remote cache")',
    )
  }
  return config
}

export interface RemoteStatusReport {
  remote: string
  mode: string
  prefix: string
  ttlSec: number | null
  connectTimeoutMs: number
  operationTimeoutMs: number
  /** Whether BURN_REMOTE_KEY is set (never the key). */
  signing: boolean
  reachable: boolean
  error?: string
  latencyMs?: number
  server?: string
  keys?: RemoteStatus['keys']
}

export async function remoteStatus(flags: RemoteFlags): Promise<RemoteStatusReport> {
  const config = requiredRemote(flags)
  // (no warning line: the report says it)
  const session = new RemoteSession(config, () => {})
  const status = await session.use((b) => b.status())
  await session.close()
  const report: RemoteStatusReport = {
    remote: config.shown,
    mode: config.mode,
    prefix: config.prefix,
    ttlSec: config.ttlSec ?? null,
    connectTimeoutMs: config.connectTimeoutMs,
    operationTimeoutMs: config.operationTimeoutMs,
    signing: config.key !== undefined,
    reachable: status !== undefined,
  }
  if (status === undefined) return {...report, error: session.failure}
  return {...report, latencyMs: Math.round(status.latencyMs * 100) / 100, server: status.server, keys: status.keys}
}

export interface PushReport {
  scripts: number
  published: number
  bytes: number
  /** Set when the remote failed midway (the warning line says it too). */
  error?: string
}

/** Publishes local scripts (all of them without refs) with their names; read-only mode is refused. */
export async function pushScripts(store: Store | undefined, refs: string[], flags: RemoteFlags): Promise<PushReport> {
  const config = requiredRemote(flags)
  if (config.mode !== 'read-write') throw usageError(`the remote cache ${config.shown} is ${config.mode}: \`burn push\` needs read-write`)
  if (store === undefined) {
    if (refs.length > 0) await resolveScript(undefined, refs[0])
    return {scripts: 0, published: 0, bytes: 0}
  }
  const hashes = refs.length > 0 ? [...new Set(await Promise.all(refs.map((r) => resolveScript(store, r))))] : await allHashes(store)
  const names = await namesByHash(store)
  const session = new RemoteSession(config)
  try {
    await publishScripts(
      store,
      session,
      hashes.map((hash) => ({hash, names: names.get(hash) ?? []})),
    )
    // memoized results and rows packs too (sealed, so only with a key: result-files.ts)
    for (const hash of hashes) await publishResultFiles(store.layout, session, hash, await storedResultKeys(store.layout, hash))
    const {published, bytesOut: bytes} = session.counters
    return {scripts: hashes.length, published, bytes, ...(session.failure ? {error: session.failure} : {})}
  } finally {
    await session.close()
    await recordRemoteStats(store, session)
  }
}

export interface PullItem {
  ref: string
  hash?: string
  status: 'local' | 'fetched' | 'missing' | 'refused'
  message?: string
}

/** Fetches in flight at once by `burn pull`, over its one connection (node-redis pipelines them). */
const PULL_WIDTH = 16

/**
 * Fetches each script (full hash or name) that is not here yet; exit 3 for any that could not
 * be. Reported in the order given, as a pull of one at a time would report them: a script that
 * an earlier ref of the list brought is `local` (fetched twice at worst, stored once: the
 * store's writes are idempotent under their locks).
 */
export async function pullScripts(store: Store, refs: string[], flags: RemoteFlags): Promise<PullItem[]> {
  const config = requiredRemote(flags)
  const session = new RemoteSession(config)
  const items: PullItem[] = []
  try {
    await eachConcurrently(refs, PULL_WIDTH, async (ref, i) => void (items[i] = await pullOne(store, session, ref)))
  } finally {
    await session.close()
    await recordRemoteStats(store, session)
  }
  const seen = new Set<string>()
  return items.map((item) => {
    const again = item.status === 'fetched' && seen.has(item.hash!)
    if (item.hash !== undefined) seen.add(item.hash)
    return again ? {...item, status: 'local'} : item
  })
}

async function pullOne(store: Store, session: RemoteSession, ref: string): Promise<PullItem> {
  try {
    return {ref, hash: await resolveScript(store, ref), status: 'local'}
  } catch (error) {
    if (!(error instanceof BurnError) || error.kind !== 'notFound' || error.data.ref !== ref) throw error
  }
  try {
    const got = await fetchRemote(store, session, ref)
    return got ? {ref, hash: got.hash, status: 'fetched'} : {ref, status: 'missing'}
  } catch (error) {
    return {ref, status: 'refused', message: describeError(error).message}
  }
}

async function allHashes(store: Store): Promise<string[]> {
  const shards = await readdir(store.layout.objectsDir).catch(() => [] as string[])
  const all = await Promise.all(shards.map((s) => readdir(store.layout.objectShard(s)).catch(() => [] as string[])))
  return all
    .flat()
    .filter((h) => FULL_HASH.test(h))
    .sort()
}

async function namesByHash(store: Store): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  for (const name of (await readdir(store.layout.namesDir).catch(() => [] as string[])).sort()) {
    const hash = await readName(store.layout, name).catch(() => undefined)
    if (hash !== undefined) out.set(hash, [...(out.get(hash) ?? []), name])
  }
  return out
}
