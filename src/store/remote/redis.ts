import {readFile} from 'node:fs/promises'
import type {RedisClientType} from '@redis/client'
import {nodeTls} from '../../util/builtins.js'
import {entryKey, type PublishResult, type RemoteBackend, type RemoteEntry, type RemoteStatus} from './backend.js'
import type {RemoteConfig} from './config.js'

/*
 * The Redis backend, over node-redis's core client (@redis/client: the `redis` package without
 * its module plugins; ioredis's own README recommends node-redis for new projects, and its
 * defaults queue commands offline and retry 20 times). The client is imported here, and this
 * module is imported only when a local miss asks the remote (session.ts): a local hit never
 * loads it (node-redis#1740: ~150 ms to import).
 *
 * A down server must never stall a call: no offline queue (a command on a closed socket fails
 * at once), no reconnection (the session turns the remote off for the process instead), and
 * every operation, the connection included, races a deadline after which the socket is destroyed.
 */

type Client = RedisClientType

/** The most pack keys read of one rows scope's set (fetchRowPacks). */
export const MAX_ROW_PACKS = 4096

export class TimeoutError extends Error {}

export async function openRedis(config: RemoteConfig): Promise<RemoteBackend> {
  const {RedisClient, RESP_TYPES} = await import('@redis/client')
  const socket = unixPath(config.url)
  // A private CA is trusted on top of Node's roots, not instead of them (tls.connect's `ca` replaces them).
  const ca =
    config.ca !== undefined && /^rediss:/i.test(config.url) ? {ca: [...nodeTls().rootCertificates, await readFile(config.ca, 'utf8')]} : {}
  // The bare client class, not createClient: createClient first builds a class with a method per
  // Redis command (~500 closures, ~95 ms of CPU in every process that asks the remote), and burn
  // only ever sends raw commands (sendCommand); the handshake (AUTH, SELECT) is the base class's.
  const client = new RedisClient({
    ...(socket
      ? {socket: {path: socket.path, connectTimeout: config.connectTimeoutMs, reconnectStrategy: false}}
      : {url: withPassword(config)}),
    ...(socket ? {database: socket.db} : {socket: {connectTimeout: config.connectTimeoutMs, reconnectStrategy: false, ...ca}}),
    ...(config.password === undefined ? {} : {password: config.password}),
    disableOfflineQueue: true,
    // RESP2: a server that refuses HELLO (an older Redis, a proxy) still works
    RESP: 2,
  }) as unknown as Client
  // errors also reject the call in flight; this only keeps an 'error' event from crashing
  client.on('error', () => {})
  const asBuffer = {typeMapping: {[RESP_TYPES.BLOB_STRING]: Buffer}}
  try {
    await deadline(client.connect(), config.connectTimeoutMs + config.operationTimeoutMs, 'connecting')
  } catch (error) {
    client.destroy()
    throw error
  }
  const run = <T>(p: Promise<T>, what: string): Promise<T> =>
    deadline(p, config.operationTimeoutMs, what).catch((error: unknown) => {
      client.destroy()
      throw error
    })
  return new RedisBackend(client, config, run, asBuffer)
}

class RedisBackend implements RemoteBackend {
  constructor(
    private readonly client: Client,
    private readonly config: RemoteConfig,
    private readonly run: <T>(p: Promise<T>, what: string) => Promise<T>,
    private readonly asBuffer: object,
  ) {}

  /**
   * One value, in one round trip: GETRANGE reads at most one byte past maxValueBytes (a longer
   * value arrives cut, and its checks reject it: fetch.ts), EXISTS tells a missing key from an
   * empty value, and EXPIRE refreshes the expiry on a read (sccache#275: a TTL that reads do not
   * refresh leaves a cold cache).
   */
  private async get(key: string): Promise<Buffer | undefined> {
    const {ttlSec, maxValueBytes} = this.config
    const send = (args: string[], opts?: object) => this.client.sendCommand(args, opts) as Promise<unknown>
    const replies = [send(['GETRANGE', key, '0', String(maxValueBytes)], this.asBuffer), send(['EXISTS', key])]
    if (ttlSec !== undefined) replies.push(send(['EXPIRE', key, String(ttlSec)]))
    const [reply, exists] = await this.run(Promise.all(replies), `reading ${key}`)
    if (exists !== 1) return undefined
    // A server that answers with anything but bytes is not a cache: an error turns the remote off.
    if (!Buffer.isBuffer(reply))
      throw new Error(`the remote answered ${key} with a ${Array.isArray(reply) ? 'list' : typeof reply}, not bytes`)
    return reply
  }

  fetchSource(hash: string) {
    return this.get(entryKey(this.config.prefix, {kind: 'source', hash}))
  }
  fetchCompiled(tag: string, hash: string) {
    return this.get(entryKey(this.config.prefix, {kind: 'compiled', tag, hash}))
  }
  fetchName(name: string) {
    return this.get(entryKey(this.config.prefix, {kind: 'name', name}))
  }
  fetchEngines(hash: string) {
    return this.get(entryKey(this.config.prefix, {kind: 'engines', hash}))
  }
  fetchResult(hash: string, key: string) {
    return this.get(entryKey(this.config.prefix, {kind: 'result', hash, key}))
  }

  /**
   * The members of a scope's set, at most MAX_ROW_PACKS of them (SSCAN would page a larger one:
   * no honest store writes that many packs for one scope), its expiry refreshed as a read does.
   * Their size is bounded by the operation timeout only: a set of huge members written by a
   * hostile writer times out, and the remote is then off for the batch (one warning line).
   */
  async fetchRowPacks(hash: string, scope: string): Promise<string[]> {
    const key = entryKey(this.config.prefix, {kind: 'rowPacks', hash, scope})
    const send = (args: string[]) => this.client.sendCommand(args) as Promise<unknown>
    const replies = [send(['SRANDMEMBER', key, String(MAX_ROW_PACKS)])]
    if (this.config.ttlSec !== undefined) replies.push(send(['EXPIRE', key, String(this.config.ttlSec)]))
    const [members] = await this.run(Promise.all(replies), `reading ${key}`)
    if (!Array.isArray(members)) throw new Error(`the remote answered ${key} with a ${typeof members}, not a set`)
    return members.map(String)
  }

  async dropRowPack(hash: string, scope: string, key: string): Promise<void> {
    await this.run(this.client.sendCommand(['SREM', entryKey(this.config.prefix, {kind: 'rowPacks', hash, scope}), key]), 'SREM')
  }

  async publish(entries: RemoteEntry[]): Promise<PublishResult> {
    const {prefix, ttlSec} = this.config
    const ttl = ttlSec === undefined ? [] : ['EX', String(ttlSec)]
    const content = (e: RemoteEntry) => e.kind === 'source' || e.kind === 'compiled' || e.kind === 'result'
    // Content already there is not sent again (ccache: EXISTS, then SET): a 9 MB source crosses
    // the network once. The commands of one tick go out pipelined, in one round trip.
    const there = await this.run(
      Promise.all(entries.map((e) => (content(e) ? (this.client.sendCommand(['EXISTS', entryKey(prefix, e)]) as Promise<number>) : 0))),
      'checking what the remote holds',
    )
    const todo = entries.filter((_, i) => there[i] !== 1)
    const replies = todo.map((e) => {
      const key = entryKey(prefix, e)
      if (e.kind !== 'rowPacks') return this.client.sendCommand(['SET', key, e.bytes, ...(content(e) ? ['NX'] : []), ...ttl])
      const added = this.client.sendCommand(['SADD', key, e.bytes])
      if (ttlSec === undefined) return added
      // (after the SADD, in the same pipeline: an EXPIRE of a set not made yet would do nothing)
      return Promise.all([added, this.client.sendCommand(['EXPIRE', key, String(ttlSec)])]).then(([n]) => n)
    }) as Array<Promise<unknown>>
    const done = await this.run(Promise.all(replies), `publishing ${todo.length} value(s)`)
    // (a SADD of a new member says 1)
    const written = todo.filter((_, i) => done[i] === 'OK' || done[i] === 1)
    return {written: written.length, bytes: written.reduce((n, e) => n + e.bytes.length, 0)}
  }

  async status(): Promise<RemoteStatus> {
    const t0 = performance.now()
    await this.run(this.client.sendCommand(['PING']), 'PING')
    const latencyMs = performance.now() - t0
    const keys = {sources: 0, compiled: 0, names: 0, engines: 0}
    const kinds: Array<[keyof typeof keys, string]> = [
      ['sources', 'src:'],
      ['compiled', 'cc:'],
      ['names', 'name:'],
      ['engines', 'eng:'],
    ]
    for (const [k, infix] of kinds) keys[k] = await this.count(`${this.config.prefix}${infix}*`)
    const info = (await this.run(this.client.sendCommand(['INFO', 'server']), 'INFO')) as string
    const version = /redis_version:(\S+)/.exec(info)?.[1]
    return {latencyMs, keys, server: version === undefined ? undefined : `redis ${version}`}
  }

  /** Keys matching a pattern, by SCAN (never KEYS, which blocks the server). */
  private async count(pattern: string): Promise<number> {
    let cursor = '0'
    let n = 0
    const t0 = performance.now()
    do {
      // each SCAN has its deadline; a server whose cursor never comes back to 0 gets one for the whole count
      if (performance.now() - t0 > this.config.operationTimeoutMs) throw new TimeoutError(`counting ${pattern} took too long`)
      const [next, batch] = (await this.run(this.client.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000']), 'SCAN')) as [
        string,
        string[],
      ]
      cursor = next
      n += batch.length
    } while (cursor !== '0')
    return n
  }

  async close(): Promise<void> {
    this.client.destroy()
  }
}

/**
 * The URL with BURN_REMOTE_PASSWORD in it: node-redis takes a URL's user over the `password`
 * option and would send that user with no password (AUTH user '').
 */
function withPassword(config: RemoteConfig): string {
  if (config.password === undefined) return config.url
  const u = new URL(config.url)
  if (u.username === '' || u.password !== '') return config.url
  u.password = encodeURIComponent(config.password)
  return u.toString()
}

/** unix:///path/sock?db=N (and redis+unix:) -> the socket path and database. */
function unixPath(url: string): {path: string; db: number} | undefined {
  const m = /^(?:redis\+)?unix:\/\/?(\/[^?]*)(?:\?db=(\d+))?$/.exec(url)
  return m ? {path: decodeURIComponent(m[1]), db: Number(m[2] ?? 0)} : undefined
}

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms (${what})`)), ms)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}
