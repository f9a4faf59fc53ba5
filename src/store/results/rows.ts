import {nodeCrypto} from '../../util/builtins.js'
import {endianness} from 'node:os'
import type {Layout} from '../layout.js'
import {writeResult} from './memo.js'

/*
 * The stored rows of `batch --memo`: packs of (row bytes, result bytes), each pack one result
 * file (format.ts: the same header, checksums, atomic write, verify, gc, forget and stats as a
 * `run --memo` result), at results/<ab>/<script hash>/<key>, where the key starts with 16 hex
 * digits of the rows scope (key.ts rowsScope: script, engine, --fuel) so a batch reads only the
 * packs of its own scope. A batch writes a pack every PACK_BYTES of rows it computed, not a file
 * per row: a million files would cost a million fsyncs to write and far more than the batch
 * itself to read back. Packs are read one at a time by row-index.ts.
 *
 * A row is matched by its exact bytes, compared with the stored ones (a row hash only finds the
 * candidates), so no hash collision can ever print another row's result. Not by canonical JSON
 * as `run --memo` keys its input: parsing and re-serializing every row in burn's main process
 * costs more than the whole batch does (its runners parse the rows in parallel). A row spelled
 * differently (spaces, key order) is a miss, never a wrong result.
 *
 * Payload: magic | scope 32 bytes | u32 count | count x (u32 row hash, u32 row length, u32
 * result length) | the rows' bytes | the results' bytes. "BURNROW2" (written now) ends every
 * row and every result with '\n', so a run of stored rows reads exactly as NDJSON lines do and
 * is compared, and its results copied, in one call (batch/memo/plan.ts); "BURNROW1" (read still) has
 * no separators.
 */
const MAGIC_V1 = Buffer.from('BURNROW1', 'latin1')
const MAGIC = Buffer.from('BURNROW2', 'latin1')
/** Bytes of a pack's payload before its entry table. */
export const PACK_HEAD = 8 + 32 + 4
const ENTRY = 12
const LITTLE_ENDIAN = endianness() === 'LE'
/**
 * A pack is written once this many bytes of rows and results are waiting. A batch reads packs
 * one by one into a few reused buffers: a small pack costs little to read and check again, and
 * memory never touched before costs far more on some machines than reading it (row-index.ts).
 */
export const PACK_BYTES = 1024 * 1024

/** FNV-1a over a row's bytes: the row index's bucket (candidates are then compared byte by byte). */
export function rowHash(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i], 0x01000193)
  return h >>> 0
}

/** A pack's payload, checked: its entries and how its rows and results are laid out. */
export interface PackLayout {
  count: number
  /** (row hash, row length, result length) per entry */
  table: Uint32Array
  /** bytes after each row and each result: 1 ('\n', BURNROW2) or 0 (BURNROW1) */
  sep: number
  /** where the rows start in the payload, and where the results start */
  rowsAt: number
  resultsAt: number
}

/** The entry table of a payload that holds `count` entries: a view when the bytes allow one (aligned), else a copy. */
export function entryTable(b: Buffer, count: number): Uint32Array {
  const at = b.byteOffset + PACK_HEAD
  return LITTLE_ENDIAN && at % 4 === 0
    ? new Uint32Array(b.buffer, at, count * 3)
    : Uint32Array.from({length: count * 3}, (_, i) => b.readUInt32LE(PACK_HEAD + i * 4))
}

/** Whether `key` is one RowPackWriter makes for `scope` (scope prefix, then batch time, batch id, pack number, random: 64 hex digits). */
export function isPackKey(key: string, scope: string): boolean {
  return /^[0-9a-f]{64}$/.test(key) && key.startsWith(scope.slice(0, 16))
}

/** The scope of a result payload that is a rows pack of the right layout, else undefined (a `run --memo` result). */
export function packScope(payload: Buffer): string | undefined {
  if (payload.length < PACK_HEAD) return undefined
  const scope = payload.toString('hex', 8, 40)
  return packLayout(payload, scope) ? scope : undefined
}

/** The count a pack's payload starts with (its first PACK_HEAD bytes), unchecked: what to expect once it is read whole. */
export function packCount(head: Buffer, scope: string): number | undefined {
  if (head.length < PACK_HEAD || !(head.subarray(0, 8).equals(MAGIC) || head.subarray(0, 8).equals(MAGIC_V1))) return undefined
  return head.toString('hex', 8, 40) === scope ? head.readUInt32LE(40) : undefined
}

/**
 * The layout of a pack, or undefined when its checksums hold but its layout does not (another
 * format, another scope). Its table is a view when the bytes allow one (read whole, aligned).
 */
export function packLayout(b: Buffer, scope: string): PackLayout | undefined {
  const count = packCount(b, scope)
  if (count === undefined || PACK_HEAD + count * ENTRY > b.length) return undefined
  const sep = b.subarray(0, 8).equals(MAGIC) ? 1 : 0
  const table = entryTable(b, count)
  const rowsAt = PACK_HEAD + count * ENTRY
  const rowBytes = columnBytes(table, count, 1, sep)
  const resultBytes = columnBytes(table, count, 2, sep)
  return rowsAt + rowBytes + resultBytes === b.length ? {count, table, sep, rowsAt, resultsAt: rowsAt + rowBytes} : undefined
}

/**
 * The bytes of a pack's rows (`column` 1) or results (2), each followed by `sep`. A function of
 * its own, as row-index.ts entryOffsets is: as a loop inside packLayout, which runs once a pack,
 * V8 optimized it only on the stack and dropped that code at each exit; it took 34 ms of main-
 * thread CPU in a profile of a 1M-row re-run (bench/batch-memo.mjs), 4-7 ms now.
 */
function columnBytes(table: Uint32Array, count: number, column: number, sep: number): number {
  let bytes = 0
  for (let i = 0; i < count; i++) bytes += table[3 * i + column] + sep
  return bytes
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
  /** when the batch started and a random id: the packs of one batch share them in their keys */
  private readonly time = Date.now().toString(16).padStart(12, '0')
  private readonly batch = nodeCrypto().randomBytes(4).toString('hex')
  /** packs cut so far: orders this batch's packs */
  private seq = 0
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
    if (this.rowsAt + rowLen + 1 > this.rows.length || this.resultsAt + resultLen + 1 > this.results.length) {
      this.cut()
      if (rowLen + 1 > this.rows.length) this.rows = Buffer.allocUnsafe(rowLen + 1)
      if (resultLen + 1 > this.results.length) this.results = Buffer.allocUnsafe(resultLen + 1)
    }
    this.table.push(rowHash(row, rowStart, rowEnd), rowLen, resultLen)
    this.rowsAt += row.copy(this.rows, this.rowsAt, rowStart, rowEnd)
    this.rows[this.rowsAt++] = 0x0a
    this.resultsAt += result.copy(this.results, this.resultsAt, resultStart, resultEnd)
    this.results[this.resultsAt++] = 0x0a
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
    const payload = Buffer.allocUnsafe(PACK_HEAD + count * ENTRY + this.rowsAt + this.resultsAt)
    MAGIC.copy(payload, 0)
    payload.write(this.scope, 8, 'hex')
    payload.writeUInt32LE(count, 40)
    const {table} = this
    for (let i = 0; i < table.length; i++) payload.writeUInt32LE(table[i], PACK_HEAD + i * 4)
    this.rows.copy(payload, PACK_HEAD + count * ENTRY, 0, this.rowsAt)
    this.results.copy(payload, PACK_HEAD + count * ENTRY + this.rowsAt, 0, this.resultsAt)
    this.table = []
    this.rowsAt = 0
    this.resultsAt = 0
    // (scope, the batch's time and id, its count of packs, random: packs read in key order give
    // each batch's rows in the order they were written, a batch after another, so a re-run in the
    // same order finds each next row where it looks; row-index.ts tells one batch from another)
    const seq = (this.seq++).toString(16).padStart(6, '0')
    const key = this.scope.slice(0, 16) + this.time + this.batch + seq + nodeCrypto().randomBytes(11).toString('hex')
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
