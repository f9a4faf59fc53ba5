/*
 * What burn asks of a shared remote cache (Afterburner's BurnCacheBackend: fetch, publish,
 * idempotent, racing publishers allowed). A backend is transport only: it moves bytes under
 * keys and judges none of them; what it returns is checked by fetch.ts before anything is
 * stored or run. Redis is the one implemented (redis.ts); an S3 or HTTP backend implements the
 * same interface.
 */

/**
 * One value to publish. Content (source, compiled, a memoized result: one value per key) is set
 * only if absent; records are replaced; a rowPacks entry adds one member to its set.
 */
export type RemoteKey =
  | {kind: 'source'; hash: string}
  | {kind: 'compiled'; tag: string; hash: string}
  | {kind: 'name'; name: string}
  | {kind: 'engines'; hash: string}
  | {kind: 'result'; hash: string; key: string}
  /** The keys of a scope's rows packs (`batch --memo`): a set, each pack a `result` entry of its own; bytes: one key to add. */
  | {kind: 'rowPacks'; hash: string; scope: string}

export type RemoteEntry = RemoteKey & {bytes: Buffer}

/** Values the remote took, and their bytes (content it already held is neither). */
export interface PublishResult {
  written: number
  bytes: number
}

export interface RemoteStatus {
  /** Round trip of one PING, in milliseconds. */
  latencyMs: number
  /** Keys under the prefix, by kind. */
  keys: {sources: number; compiled: number; names: number; engines: number}
  server?: string
}

export interface RemoteBackend {
  fetchSource(hash: string): Promise<Buffer | undefined>
  fetchCompiled(tag: string, hash: string): Promise<Buffer | undefined>
  fetchName(name: string): Promise<Buffer | undefined>
  fetchEngines(hash: string): Promise<Buffer | undefined>
  /** A memoized result (`run --memo`) by script hash and memo key (store/results/key.ts). */
  fetchResult(hash: string, key: string): Promise<Buffer | undefined>
  /** The pack keys listed under a rows scope (store/results/rows.ts), unchecked. */
  fetchRowPacks(hash: string, scope: string): Promise<string[]>
  /** Takes a pack key out of its scope's set (the pack itself expired or was evicted). */
  dropRowPack(hash: string, scope: string, key: string): Promise<void>
  /** Writes what is absent (content), replaces (records) or adds to a set (rowPacks). */
  publish(entries: RemoteEntry[]): Promise<PublishResult>
  status(): Promise<RemoteStatus>
  close(): Promise<void>
}

/** The key of an entry under a prefix: one place, shared by every backend and the tests. */
export function entryKey(prefix: string, e: RemoteKey): string {
  switch (e.kind) {
    case 'source':
      return `${prefix}src:${e.hash}`
    case 'compiled':
      return `${prefix}cc:${e.tag}:${e.hash}`
    case 'name':
      return `${prefix}name:${e.name}`
    case 'engines':
      return `${prefix}eng:${e.hash}`
    case 'result':
      return `${prefix}res:${e.hash}:${e.key}`
    case 'rowPacks':
      return `${prefix}rows:${e.hash}:${e.scope}`
  }
}
