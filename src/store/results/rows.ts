import {randomBytes} from 'node:crypto'
import {readdir, utimes} from 'node:fs/promises'
import {endianness} from 'node:os'
import {join} from 'node:path'
import type {Layout} from '../layout.js'
import {checkParents} from '../store-trust.js'
import {readRegularInPool} from '../../util/read-regular.js'
import {readStored, writeResult} from './memo.js'

/*
 * The stored rows of `batch --memo`: packs of (row bytes, result bytes), each pack one result
 * file (format.ts: the same header, checksums, atomic write, verify, gc, forget and stats as a
 * `run --memo` result), at results/<ab>/<script hash>/<key>, where the key starts with 16 hex
 * digits of the rows scope (key.ts rowsScope: script, engine, --fuel) so a batch reads only the
 * packs of its own scope. A batch writes a pack every PACK_BYTES of rows it computed, not a file
 * per row: a million files would cost a million fsyncs to write and far more than the batch
 * itself to read back.
 *
 * A row is matched by its exact bytes, compared with the stored ones (a row hash only finds the
 * candidates), so no hash collision can ever print another row's result. Not by canonical JSON
 * as `run --memo` keys its input: parsing and re-serializing every row in burn's main process
 * costs more than the whole batch does (its runners parse the rows in parallel). A row spelled
 * differently (spaces, key order) is a miss, never a wrong result.
 *
 * Payload: magic "BURNROW1" | scope 32 bytes | u32 count | count x (u32 row hash, u32 row
 * length, u32 result length) | the rows' bytes | the results' bytes.
 */
const MAGIC = Buffer.from('BURNROW1', 'latin1')
const HEAD = 8 + 32 + 4
const ENTRY = 12
const LITTLE_ENDIAN = endianness() === 'LE'
/** A pack is written once this many bytes of rows and results are waiting. */
export const PACK_BYTES = 8 * 1024 * 1024

/** FNV-1a over a row's bytes: the row index's bucket (candidates are then compared byte by byte). */
export function rowHash(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i], 0x01000193)
  return h >>> 0
}

interface Pack {
  path: string
  payload: Buffer
  /** (row hash, row length, result length) per entry */
  table: Uint32Array
  used: boolean
}

/** Every stored row of one scope, in memory: rows and results stay in the packs' buffers; the index is typed arrays. */
export class RowIndex {
  private readonly packs: Pack[] = []
  private pack = new Uint32Array(0)
  private inOff = new Uint32Array(0)
  private inLen = new Uint32Array(0)
  private outOff = new Uint32Array(0)
  private outLen = new Uint32Array(0)
  private hashes = new Uint32Array(0)
  private slots = new Int32Array(0)
  /** Packs that were damaged (set aside, their rows recomputed). */
  damaged = 0

  get size(): number {
    return this.hashes.length
  }

  /**
   * The stored row equal to `b[start, end)`, or -1. `hint`: the entry expected here (the one
   * after the previous row's), tried before the hash: a re-run over mostly the same file in
   * the same order then hashes only the rows around a change.
   */
  find(b: Buffer, start: number, end: number, hint: number): number {
    if (hint >= 0 && hint < this.hashes.length && this.equals(hint, b, start, end)) return hint
    if (this.slots.length === 0) return -1
    const h = rowHash(b, start, end)
    const mask = this.slots.length - 1
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const id = this.slots[s] - 1
      if (id < 0) return -1
      if (this.hashes[id] === h && this.equals(id, b, start, end)) return id
    }
  }

  resultLength(id: number): number {
    return this.outLen[id]
  }

  /** Copies the stored result of entry `id` into `to` at `at`; returns its length. Marks the pack used. */
  copyResult(id: number, to: Buffer, at: number): number {
    const p = this.packs[this.pack[id]]
    p.used = true
    return p.payload.copy(to, at, this.outOff[id], this.outOff[id] + this.outLen[id])
  }

  /** The packs that served a row get their last use marked (gc's LRU), as a `run --memo` hit does. */
  async touch(): Promise<void> {
    const now = new Date()
    await Promise.all(this.packs.filter((p) => p.used).map((p) => utimes(p.path, now, now).catch(() => {})))
  }

  private equals(id: number, b: Buffer, start: number, end: number): boolean {
    const len = this.inLen[id]
    if (len !== end - start) return false
    const off = this.inOff[id]
    return b.compare(this.packs[this.pack[id]].payload, off, off + len, start, end) === 0
  }

  /** Loads the valid packs of `scope` for script `hash`; a damaged one is set aside (its rows are then misses). */
  static async load(layout: Layout, hash: string, scope: string): Promise<RowIndex> {
    const index = new RowIndex()
    const dir = layout.resultsOf(hash)
    // results/, its shard and the script's directory: a link or another user's there is refused (exit 8)
    checkParents(join(dir, 'x'), 3)
    const names = await readdir(dir).catch(() => [] as string[])
    // All read at once in the thread pool, each checked here as it arrives: reading 100 MB of packs
    // on this thread was a quarter of a 1M-row re-run.
    const keys = names.filter((n) => isPackKey(n, scope)).sort()
    const loaded = await Promise.all(
      keys.map(async (key): Promise<Pack | undefined> => {
        const path = join(dir, key)
        const got = await readStored(layout, path, {hash, key}, readRegularInPool)
        if (got.state === 'bad') index.damaged++
        const table = got.state === 'valid' ? packTable(got.payload, scope) : undefined
        return got.state === 'valid' && table ? {path, payload: got.payload, table, used: false} : undefined
      }),
    )
    index.build(loaded.filter((p): p is Pack => p !== undefined))
    return index
  }

  private build(packs: Pack[]): void {
    const n = packs.reduce((sum, p) => sum + p.table.length / 3, 0)
    // (locals in the loop: a million entries are read and written here on every --memo batch)
    const pack = (this.pack = new Uint32Array(n))
    const inOff = (this.inOff = new Uint32Array(n))
    const inLen = (this.inLen = new Uint32Array(n))
    const outOff = (this.outOff = new Uint32Array(n))
    const outLen = (this.outLen = new Uint32Array(n))
    const hashes = (this.hashes = new Uint32Array(n))
    let size = 1024
    while (size < n * 2) size *= 2
    const slots = (this.slots = n === 0 ? new Int32Array(0) : new Int32Array(size))
    const mask = size - 1
    let id = 0
    for (const p of packs) {
      const packId = this.packs.push(p) - 1
      const {table} = p
      const count = table.length / 3
      let inAt = HEAD + count * ENTRY
      let outAt = inAt
      for (let i = 0; i < count; i++) outAt += table[3 * i + 1]
      for (let i = 0; i < count; i++, id++) {
        const h = table[3 * i]
        const il = table[3 * i + 1]
        const ol = table[3 * i + 2]
        pack[id] = packId
        hashes[id] = h
        inOff[id] = inAt
        inLen[id] = il
        outOff[id] = outAt
        outLen[id] = ol
        inAt += il
        outAt += ol
        let slot = h & mask
        while (slots[slot] !== 0) slot = (slot + 1) & mask
        slots[slot] = id + 1
      }
    }
  }
}

/** Whether `key` is one RowPackWriter makes for `scope` (scope prefix, time, random: 64 hex digits). */
export function isPackKey(key: string, scope: string): boolean {
  return /^[0-9a-f]{64}$/.test(key) && key.startsWith(scope.slice(0, 16))
}

/** The scope of a result payload that is a rows pack of the right layout, else undefined (a `run --memo` result). */
export function packScope(payload: Buffer): string | undefined {
  if (payload.length < HEAD || !payload.subarray(0, 8).equals(MAGIC)) return undefined
  const scope = payload.toString('hex', 8, 40)
  return packTable(payload, scope) ? scope : undefined
}

/**
 * The entry table of a pack, or undefined when its checksums hold but its layout does not
 * (another format, another scope). A view when the bytes allow one (read whole, aligned).
 */
function packTable(b: Buffer, scope: string): Uint32Array | undefined {
  if (b.length < HEAD || !b.subarray(0, 8).equals(MAGIC) || b.toString('hex', 8, 40) !== scope) return undefined
  const count = b.readUInt32LE(40)
  if (HEAD + count * ENTRY > b.length) return undefined
  const at = b.byteOffset + HEAD
  const table =
    LITTLE_ENDIAN && at % 4 === 0
      ? new Uint32Array(b.buffer, at, count * 3)
      : Uint32Array.from({length: count * 3}, (_, i) => b.readUInt32LE(HEAD + i * 4))
  let total = HEAD + count * ENTRY
  for (let i = 0; i < count; i++) total += table[3 * i + 1] + table[3 * i + 2]
  return total === b.length ? table : undefined
}

/**
 * Collects computed rows and writes them as packs, one at a time in the background (each an
 * atomic, fsynced result write): every PACK_BYTES and at `close`. Rows and results are copied
 * into two flat buffers as they come (a Buffer per row cost more in the GC than the rest of the
 * first --memo batch). Counts the rows stored.
 */
export class RowPackWriter {
  private table: number[] = []
  private rows = Buffer.allocUnsafe(PACK_BYTES)
  private results = Buffer.allocUnsafe(PACK_BYTES)
  private rowsAt = 0
  private resultsAt = 0
  private writing: Promise<void> = Promise.resolve()
  private failed?: Error
  stored = 0
  /** The keys of the packs written (the shared remote cache publishes them: remote/result-files.ts). */
  readonly keys: string[] = []

  constructor(
    private readonly layout: Layout,
    private readonly hash: string,
    private readonly scope: string,
  ) {}

  /** One computed row: `row[rowStart, rowEnd)` gave `result[resultStart, resultEnd)`. */
  add(row: Buffer, rowStart: number, rowEnd: number, result: Buffer, resultStart: number, resultEnd: number): void {
    const rowLen = rowEnd - rowStart
    const resultLen = resultEnd - resultStart
    if (this.rowsAt + rowLen > this.rows.length || this.resultsAt + resultLen > this.results.length) {
      this.cut()
      if (rowLen > this.rows.length) this.rows = Buffer.allocUnsafe(rowLen)
      if (resultLen > this.results.length) this.results = Buffer.allocUnsafe(resultLen)
    }
    this.table.push(rowHash(row, rowStart, rowEnd), rowLen, resultLen)
    this.rowsAt += row.copy(this.rows, this.rowsAt, rowStart, rowEnd)
    this.resultsAt += result.copy(this.results, this.resultsAt, resultStart, resultEnd)
  }

  /** Writes what is left and waits for every write; a failed write is thrown (the batch's rows are out already). */
  async close(): Promise<number> {
    this.cut()
    await this.writing
    if (this.failed) throw this.failed
    return this.stored
  }

  private cut(): void {
    const count = this.table.length / 3
    if (count === 0) return
    const payload = Buffer.allocUnsafe(HEAD + count * ENTRY + this.rowsAt + this.resultsAt)
    MAGIC.copy(payload, 0)
    payload.write(this.scope, 8, 'hex')
    payload.writeUInt32LE(count, 40)
    const {table} = this
    for (let i = 0; i < table.length; i++) payload.writeUInt32LE(table[i], HEAD + i * 4)
    this.rows.copy(payload, HEAD + count * ENTRY, 0, this.rowsAt)
    this.results.copy(payload, HEAD + count * ENTRY + this.rowsAt, 0, this.resultsAt)
    this.table = []
    this.rowsAt = 0
    this.resultsAt = 0
    // (time first: packs load in the order they were written, so a batch's rows get consecutive
    // entries and a re-run in the same order finds each next row where `find`'s hint looks)
    const key = this.scope.slice(0, 16) + Date.now().toString(16).padStart(12, '0') + randomBytes(18).toString('hex')
    const {layout, hash} = this
    this.writing = this.writing.then(() =>
      writeResult(layout, layout.result(hash, key), {hash, key}, payload).then(
        () => {
          this.stored += count
          this.keys.push(key)
        },
        (error: Error) => void (this.failed ??= error),
      ),
    )
  }
}
