import {utimesSync} from 'node:fs'
import {writeAtomic} from '../atomic.js'
import {setAside} from '../damaged.js'
import type {Layout} from '../layout.js'
import {withLock} from '../lock.js'
import type {RunOutcome} from '../outcome.js'
import {recordStats} from '../stats/stats.js'
import {checkParents} from '../store-trust.js'
import type {Store} from '../store.js'
import {badDataError} from '../../util/errors.js'
import {loadXxh64} from '../../util/hash.js'
import {notRegular, readRegular} from '../../util/read-regular.js'
import {decodeResult, encodeResult} from './format.js'
import {inputDigest, memoKey, type MemoTarget} from './key.js'

export type Stored = {state: 'valid'; output: string; key: string; hash: string} | {state: 'missing'} | {state: 'bad'; reason: string}

/**
 * Reads and checks one stored result (format.ts); a bad one is set aside, so it is read as a
 * miss now and never again. `expect.key` absent: a key record, whose memo key is read back.
 */
export async function checkStored(layout: Layout, path: string, expect: {hash?: string; key?: string}): Promise<Stored> {
  const got = await readStored(layout, path, expect)
  return got.state === 'valid' ? {state: 'valid', output: got.payload.toString('utf8'), hash: got.hash, key: got.key} : got
}

/** checkStored's bytes: the payload as stored (a rows pack is binary, rows.ts). */
export async function readStored(
  layout: Layout,
  path: string,
  expect: {hash?: string; key?: string},
  read: (path: string) => Promise<Buffer> = readRegular,
): Promise<{state: 'valid'; payload: Buffer; key: string; hash: string} | {state: 'missing'} | {state: 'bad'; reason: string}> {
  let buf: Buffer
  try {
    buf = await read(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {state: 'missing'}
    if (!notRegular(error)) throw error
    await setAside(layout, path, 'result')
    return {state: 'bad', reason: (error as Error).message}
  }
  const decoded = decodeResult(buf, expect, await loadXxh64())
  if (!decoded.ok) {
    await setAside(layout, path, 'result')
    return {state: 'bad', reason: decoded.reason}
  }
  return {state: 'valid', payload: decoded.payload, ...decoded.meta}
}

/** The stored result of `key`, if there is a good one that fits --max-output; a hit marks its last use (gc's LRU). */
export async function readResult(layout: Layout, hash: string, key: string, maxOutputBytes: number): Promise<string | undefined> {
  const path = layout.result(hash, key)
  // results/, its shard and the script's directory: a link or another user's there is refused (exit 8)
  checkParents(path, 3)
  const got = await checkStored(layout, path, {hash, key})
  if (got.state !== 'valid' || Buffer.byteLength(got.output) > maxOutputBytes) return undefined
  // (synchronous: one metadata write, far cheaper than a trip through the thread pool)
  const now = new Date()
  try {
    utimesSync(path, now, now)
  } catch {
    // only gc's LRU order: a result removed meanwhile is still this call's answer
  }
  return got.output
}

/** `output`: a result's JSON text, or the bytes of a rows pack (rows.ts). */
export async function writeResult(
  layout: Layout,
  path: string,
  meta: {hash: string; key: string},
  output: string | Uint8Array,
): Promise<void> {
  const data = encodeResult(meta, typeof output === 'string' ? Buffer.from(output, 'utf8') : output, await loadXxh64())
  await writeAtomic(layout.tmpDir, path, data, 'result')
}

/** A memo hit, counted: the script's last use is marked too, so gc keeps a script whose results are used. */
export async function countHit(layout: Layout, hash: string): Promise<void> {
  await recordStats(layout, {counters: {'memo.hits': 1}, used: {[hash]: Date.now()}}).catch(() => {})
}

export interface MemoOptions {
  /** --memo: look up and store the result under its memo key */
  memo: boolean
  /** --idempotency-key */
  idempotencyKey?: string
  /** The shared remote cache, asked on a local miss of a --memo result (store/remote/results.ts). */
  remote?: MemoRemote
}

/** What a memoized call asks of the shared remote cache; failures of any kind are a miss. */
export interface MemoRemote {
  /** The result of (script, memo key), sealed with the remote's key and checked as a local file is; else undefined. */
  fetch(hash: string, key: string): Promise<string | undefined>
  /** A result this call computed and stored, to publish once the call's output is out. */
  computed(hash: string, key: string, output: string): void
}

/**
 * `run --memo` / `--idempotency-key` around one call (`run` runs the script): a stored result
 * is returned without running; otherwise the registry lock of the key is taken, so processes
 * asking the same key at once run it once and the others wait for its result. A holder that
 * dies is detected as for compiles (lock.ts) and a waiter then runs it itself; a wait that
 * times out runs without the lock (a duplicate run, never a wrong result). Only a call that
 * succeeded is stored: `run` throws on any failure.
 */
export async function memoRun(store: Store, t: MemoTarget, opts: MemoOptions, run: () => Promise<RunOutcome>): Promise<RunOutcome> {
  const {layout} = store
  const key = memoKey(t)
  const lookup = () => lookupMemo(layout, t, key, opts)
  const first = await lookup()
  if (first !== undefined) return hit(layout, t.hash, first)
  const lockName = opts.idempotencyKey !== undefined ? `key.${opts.idempotencyKey}` : `memo.${key}`
  return withLock(layout.lock(lockName), {}, async () => {
    const again = await lookup()
    if (again !== undefined) return hit(layout, t.hash, again)
    // (under the lock: of N processes missing at once, one asks the remote and the others read its copy here)
    const fetched = opts.memo ? await opts.remote?.fetch(t.hash, key).catch(() => undefined) : undefined
    if (fetched !== undefined) {
      await keep(layout, t, key, opts, fetched)
      if (Buffer.byteLength(fetched) <= t.limits.maxOutputBytes) return hit(layout, t.hash, fetched)
    }
    let out: RunOutcome
    try {
      out = await run()
    } catch (error) {
      await recordStats(layout, {counters: {'memo.misses': 1}}).catch(() => {})
      throw error
    }
    await keep(layout, t, key, opts, out.output)
    if (opts.memo) opts.remote?.computed(t.hash, key, out.output)
    await recordStats(layout, {counters: {'memo.misses': 1, 'memo.stored': 1}}).catch(() => {})
    return out
  })
}

/** A result stored as this call's: under its memo key (--memo), its idempotency key, or both. */
async function keep(layout: Layout, t: MemoTarget, key: string, opts: MemoOptions, output: string): Promise<void> {
  const {hash} = t
  if (opts.memo) await writeResult(layout, layout.result(hash, key), {hash, key}, output)
  if (opts.idempotencyKey !== undefined) {
    await writeResult(layout, layout.idempotencyKey(opts.idempotencyKey), {hash, key: inputDigest(t)}, output)
  }
}

async function hit(layout: Layout, hash: string, output: string): Promise<RunOutcome> {
  await countHit(layout, hash)
  return {hash, output, cache: 'memo'}
}

/**
 * The stored output for this call, if any: its idempotency key's record (a record of another
 * input is exit 7, naming both digests), else its memo result.
 */
export async function lookupMemo(layout: Layout, t: MemoTarget, key: string, opts: MemoOptions): Promise<string | undefined> {
  if (opts.idempotencyKey !== undefined) {
    const path = layout.idempotencyKey(opts.idempotencyKey)
    checkParents(path, 2)
    const rec = await checkStored(layout, path, {})
    if (rec.state === 'valid') {
      const given = inputDigest(t)
      if (rec.key !== given || rec.hash !== t.hash) {
        throw badDataError(
          `idempotency key ${opts.idempotencyKey} was first used with input digest ${rec.key}; ` +
            `this call's input digest is ${given} (use a new key for a new input)`,
          {idempotencyKey: opts.idempotencyKey, recorded: rec.key, given},
        )
      }
      if (Buffer.byteLength(rec.output) <= t.limits.maxOutputBytes) return rec.output
    }
  }
  return opts.memo ? readResult(layout, t.hash, key, t.limits.maxOutputBytes) : undefined
}
