import {readdir, utimes} from 'node:fs/promises'
import {join} from 'node:path'
import {setAside} from '../damaged.js'
import type {Layout} from '../layout.js'
import {checkParents} from '../store-trust.js'
import {loadXxh64} from '../../util/hash.js'
import {notRegular, readRegularSync} from '../../util/read-regular.js'
import {atLeast} from '../../util/scratch.js'
import {decodeResult, headerPayloadLength, RESULT_HEADER_BYTES} from './format.js'
import {entryTable, isPackKey, packCount, packLayout, PACK_HEAD, rowHash, type PackLayout} from './rows.js'

/** Open addressing over the row hashes `of` of entries from..: index + 1 per slot. */
interface HashTable {
  ids: Int32Array
  of: Uint32Array
  from: number
}

/** Packs held read at once, until a batch is seen to jump between packs (then every pack stays). */
const SLOTS = 4

interface PackFile {
  path: string
  key: string
  /** the id of its first entry: ids number the entries of all packs in the order they were written */
  first: number
  count: number
  /** the first id after the packs of its batch */
  batchEnd: number
  /** unreadable or damaged: its rows are misses */
  bad: boolean
  /** served a result (gc's LRU) */
  used: boolean
}

/** A pack read and checked, in a buffer that is read into again when the slot goes to another pack. */
interface Slot {
  pack: number
  /** what it is read into (readRegularSync replaces a buffer that is too small) */
  into: {buf: Buffer}
  payload: Buffer
  layout: PackLayout
  /** where each entry's row and result start in the payload, and one past the last */
  rowAt: Int32Array
  resultAt: Int32Array
  lastUse: number
}

/**
 * The rows stored for one scope (rows.ts), read as a batch asks for them: a batch over mostly
 * the same rows in the same order reads each pack once, one after the other, into a few reused
 * buffers, and checks each (checksums) before it uses a byte of it. On this kind of machine
 * memory touched for the first time costs more than reading it (~10 us a page): reading 100 MB
 * of packs into new buffers, and a hash table over all their rows, was most of a 1M-row re-run.
 *
 * A row is looked for elsewhere (`lookup`) only when it is not where the rows before it say,
 * through a hash table of row hashes built when first needed from the packs' entry tables
 * alone. A hash only names a candidate: its pack is read and checked, and the row compared,
 * before it is a match.
 */
export class RowIndex {
  /** Packs that were damaged (set aside, their rows recomputed). */
  damaged = 0
  private readonly slots: Slot[] = []
  private last: Slot | undefined
  private capacity = SLOTS
  private loads = 0
  private clock = 0
  /** hash tables of the rows of entries from some entry on (`lookup`) */
  private readonly tables: HashTable[] = []
  private readonly pending: Array<Promise<unknown>> = []

  private constructor(
    private readonly layout: Layout,
    private readonly hash: string,
    private readonly scope: string,
    private readonly files: PackFile[],
    private readonly xxh: (d: Uint8Array) => bigint,
    /** entries in all packs */
    readonly size: number,
  ) {}

  /** The packs of `scope` for script `hash`, in the order they were written; each is read when first needed. */
  static async load(layout: Layout, hash: string, scope: string): Promise<RowIndex> {
    const dir = layout.resultsOf(hash)
    // results/, its shard and the script's directory: a link or another user's there is refused (exit 8)
    checkParents(join(dir, 'x'), 3)
    const keys = (await readdir(dir).catch(() => [] as string[])).filter((n) => isPackKey(n, scope)).sort()
    const xxh = keys.length > 0 ? await loadXxh64() : () => 0n
    const files: PackFile[] = []
    const head = {buf: Buffer.allocUnsafe(RESULT_HEADER_BYTES + PACK_HEAD)}
    let first = 0
    for (const key of keys) {
      const path = join(dir, key)
      let count: number | undefined
      try {
        const got = readRegularSync(path, {into: head, upTo: RESULT_HEADER_BYTES + PACK_HEAD})
        // (a count that its pack's checked length cannot hold is damage: it would number, and
        // size the hash tables of, billions of rows)
        const n = packCount(got.subarray(RESULT_HEADER_BYTES), scope)
        const length = headerPayloadLength(got, xxh)
        if (n !== undefined && length !== undefined && PACK_HEAD + n * 12 <= length) count = n
      } catch {
        // (gone, or no regular file: read whole below, which tells which)
      }
      files.push({path, key, first, count: count ?? 0, batchEnd: 0, bad: count === undefined, used: false})
      first += count ?? 0
    }
    for (let p = files.length - 1, end = first; p >= 0; p--) {
      files[p].batchEnd = end
      if (p === 0 || !sameBatch(files[p - 1], files[p])) end = files[p].first
    }
    const index = new RowIndex(layout, hash, scope, files, xxh, first)
    // a pack whose first bytes are not a pack's is read whole now: set aside if damaged
    for (const f of files) if (f.bad) index.read(f, {buf: Buffer.alloc(0)})
    return index
  }

  /** Entries left in the pack of `id` from `id` on; 0 when its pack cannot be read. */
  left(id: number): number {
    const s = this.slot(id)
    return s ? this.files[s.pack].first + s.layout.count - id : 0
  }

  /** Whether the pack of `id` keeps rows as lines (BURNROW2), so equalsLines can compare runs of them. */
  lines(id: number): boolean {
    return this.slot(id)?.layout.sep === 1
  }

  /** Whether `b[start, end)` is the row of entry `id`. */
  equalsRow(id: number, b: Buffer, start: number, end: number): boolean {
    const s = this.slot(id)
    if (!s) return false
    const k = id - this.files[s.pack].first
    const at = s.rowAt[k]
    return s.layout.table[3 * k + 1] === end - start && b.compare(s.payload, at, at + end - start, start, end) === 0
  }

  /**
   * Whether `b[start, end)` is the rows of entries id .. id + count - 1 (one pack, BURNROW2)
   * with '\n' between them. For `count` NDJSON lines with nothing else between them (no blank
   * line: the caller's part) that is each row equal to its entry: the bytes then hold count - 1
   * newlines, the separators, so no stored row among them holds one (a JSON array's element can).
   */
  equalsLines(id: number, count: number, b: Buffer, start: number, end: number): boolean {
    const s = this.slot(id)
    if (!s || s.layout.sep !== 1) return false
    const k = id - this.files[s.pack].first
    const at = s.rowAt[k]
    const to = s.rowAt[k + count] - 1
    return to - at === end - start && b.compare(s.payload, at, to, start, end) === 0
  }

  /** Bytes the results of entries id .. id + count - 1 (one pack) take, each followed by '\n'; -1 when unreadable. */
  resultBytes(id: number, count: number): number {
    const s = this.slot(id)
    if (!s) return -1
    const k = id - this.files[s.pack].first
    return s.resultAt[k + count] - s.resultAt[k] + (s.layout.sep === 1 ? 0 : count)
  }

  /** Copies those results (each followed by '\n') into `to` at `at`; returns the bytes, -1 when unreadable. */
  copyResults(id: number, count: number, to: Buffer, at: number): number {
    const s = this.slot(id)
    if (!s) return -1
    this.files[s.pack].used = true
    const k = id - this.files[s.pack].first
    const {payload, resultAt} = s
    if (s.layout.sep === 1) return payload.copy(to, at, resultAt[k], resultAt[k + count])
    let n = 0
    for (let i = k; i < k + count; i++) {
      n += payload.copy(to, at + n, resultAt[i], resultAt[i + 1])
      to[at + n++] = 0x0a
    }
    return n
  }

  /**
   * The entry whose row is `b[start, end)` among entries from..size-1, -1 if there is none.
   * `from` is where a batch's packs start (`after`): a row changed in place is looked for only
   * among rows stored by later batches, which a hash table of a few packs finds at once.
   */
  lookup(b: Buffer, start: number, end: number, from = 0): number {
    if (from >= this.size) return -1
    const h = rowHash(b, start, end)
    const {ids, of, from: base} = this.tableFor(from)
    const mask = ids.length - 1
    for (let s = h & mask; ids[s] !== 0; s = (s + 1) & mask) {
      const id = base + ids[s] - 1
      if (id >= from && of[ids[s] - 1] === h && this.equalsRow(id, b, start, end)) return id
    }
    return -1
  }

  /**
   * A hash table that holds entries from..size-1: the one that starts closest before `from`,
   * else a new one; a second new one is made of all rows, which serves every lookup after it
   * (a store whose packs each look like a batch of their own, as those of earlier versions do,
   * would otherwise build one per pack).
   */
  private tableFor(from: number): HashTable {
    let best: HashTable | undefined
    for (const t of this.tables) if (t.from <= from && (!best || t.from > best.from)) best = t
    if (best) return best
    const t = this.hashFrom(this.tables.length > 0 ? 0 : from)
    this.tables.push(t)
    return t
  }

  /** The first entry stored by a later batch than entry `id`'s. */
  after(id: number): number {
    const p = this.packOf(id)
    return p < 0 ? this.size : this.files[p].batchEnd
  }

  /**
   * The first entry of the newest batch whose first row is `b[start, end)` (a file batched before
   * starts there), or -1. Each batch's first row is read unchecked, from its pack's head: a
   * candidate only, compared again once its pack is read and checked.
   */
  batchStarting(b: Buffer, start: number, end: number): number {
    const into = {buf: Buffer.alloc(0)}
    for (let p = this.files.length - 1; p >= 0; p--) {
      const f = this.files[p]
      if (f.bad || f.count === 0 || (p > 0 && sameBatch(this.files[p - 1], f))) continue
      const rowAt = RESULT_HEADER_BYTES + PACK_HEAD + f.count * 12
      const head = this.unchecked(f, into, end - start)
      const same = head !== undefined && head.readUInt32LE(RESULT_HEADER_BYTES + PACK_HEAD + 4) === end - start
      if (same && b.compare(head, rowAt, head.length, start, end) === 0 && this.equalsRow(f.first, b, start, end)) return f.first
    }
    return -1
  }

  /** The packs that served a row get their last use marked (gc's LRU), as a `run --memo` hit does; damaged ones are set aside. */
  async touch(): Promise<void> {
    const now = new Date()
    await Promise.all([...this.pending, ...this.files.filter((f) => f.used).map((f) => utimes(f.path, now, now).catch(() => {}))])
  }

  private slot(id: number): Slot | undefined {
    const last = this.last
    if (last) {
      const first = this.files[last.pack].first
      if (id >= first && id < first + last.layout.count) return last
    }
    const p = this.packOf(id)
    if (p < 0 || this.files[p].bad) return undefined
    const s = this.slots.find((x) => x.pack === p) ?? this.fill(p)
    if (s) {
      s.lastUse = ++this.clock
      this.last = s
    }
    return s
  }

  /** The pack holding entry `id` (binary search over the packs' first ids), or -1. */
  private packOf(id: number): number {
    const {files} = this
    let lo = 0
    let hi = files.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const f = files[mid]
      if (id < f.first) hi = mid - 1
      else if (id >= f.first + f.count) lo = mid + 1
      else return mid
    }
    return -1
  }

  /** Reads pack `p` into a slot: a free one, or the one used longest ago, whose buffer is read into again. */
  private fill(p: number): Slot | undefined {
    let old: Slot | undefined
    if (this.slots.length >= this.capacity) {
      old = this.slots.reduce((a, b) => (b.lastUse < a.lastUse ? b : a))
      this.slots.splice(this.slots.indexOf(old), 1)
      if (this.last === old) this.last = undefined
    }
    // a batch that keeps going back to packs it read before is not reading them in order: keep them all
    if (++this.loads > 2 * this.files.length + SLOTS) this.capacity = Infinity
    const file = this.files[p]
    const into = old?.into ?? {buf: Buffer.alloc(0)}
    const got = this.read(file, into)
    if (!got) return undefined
    if (got.layout.count !== file.count) {
      file.bad = true
      return undefined
    }
    const n = file.count
    const rowAt = atLeast(old?.rowAt, n + 1)
    const resultAt = atLeast(old?.resultAt, n + 1)
    entryOffsets(got.layout, rowAt, resultAt)
    const slot: Slot = {pack: p, into, payload: got.payload, layout: got.layout, rowAt, resultAt, lastUse: 0}
    this.slots.push(slot)
    return slot
  }

  /**
   * Reads a pack whole (into `into`) and checks it: a damaged one is set
   * aside and counted, one that is gone (gc) or unreadable is only a miss.
   */
  private read(file: PackFile, into: {buf: Buffer}): {payload: Buffer; layout: PackLayout} | undefined {
    let buf: Buffer
    try {
      buf = readRegularSync(file.path, {into})
    } catch (error) {
      file.bad = true
      if (notRegular(error)) this.damage(file)
      return undefined
    }
    const decoded = decodeResult(buf, {hash: this.hash, key: file.key}, this.xxh)
    const layout = decoded.ok ? packLayout(decoded.payload, this.scope) : undefined
    if (!decoded.ok) this.damage(file)
    if (!decoded.ok || !layout) {
      file.bad = true
      return undefined
    }
    return {payload: decoded.payload, layout}
  }

  private damage(file: PackFile): void {
    this.damaged++
    this.pending.push(setAside(this.layout, file.path, 'result').catch(() => {}))
  }

  /**
   * A pack's first bytes, unchecked: its result header, payload head and entry table, and `extra`
   * bytes after them (its first row); undefined when unreadable, short, or not of its count.
   */
  private unchecked(f: PackFile, into: {buf: Buffer}, extra: number): Buffer | undefined {
    const upTo = RESULT_HEADER_BYTES + PACK_HEAD + f.count * 12 + extra
    try {
      const head = readRegularSync(f.path, {into, upTo})
      return head.length === upTo && packCount(head.subarray(RESULT_HEADER_BYTES), this.scope) === f.count ? head : undefined
    } catch {
      return undefined
    }
  }

  /** A hash table of the row hashes of entries from..size-1, from the packs' entry tables (read into one reused buffer, not checked). */
  private hashFrom(from: number): HashTable {
    const of = new Uint32Array(this.size - from)
    const into = {buf: Buffer.alloc(0)}
    for (const f of this.files) {
      if (f.bad || f.first < from) continue
      const head = this.unchecked(f, into, 0)
      if (!head) continue
      const table = entryTable(head.subarray(RESULT_HEADER_BYTES), f.count)
      for (let k = 0; k < f.count; k++) of[f.first - from + k] = table[3 * k]
    }
    return {...hashTable(of), from}
  }
}

/**
 * Where each entry's row and result start in a pack's payload, and one past the last. A function
 * of its own: as a loop inside fill, which V8 optimizes only on the stack and throws away at its
 * exit (fill runs once a pack), it took ~26 ns an entry, 0.03 s of a 1M-row re-run; alone, ~2 ns.
 */
function entryOffsets({count, table, sep, rowsAt, resultsAt}: PackLayout, rowAt: Int32Array, resultAt: Int32Array): void {
  let r = rowsAt
  let o = resultsAt
  for (let k = 0; k < count; k++) {
    rowAt[k] = r
    resultAt[k] = o
    r += table[3 * k + 1] + sep
    o += table[3 * k + 2] + sep
  }
  rowAt[count] = r
  resultAt[count] = o
}

/** Packs of one batch share the time and the batch id in their keys (rows.ts RowPackWriter). */
function sameBatch(a: PackFile, b: PackFile): boolean {
  return a.key.slice(16, 36) === b.key.slice(16, 36)
}

/** A hash table over `of` (index -> row hash): open addressing, index + 1 per slot (a hash of 0 is left out: a miss). */
function hashTable(of: Uint32Array): {ids: Int32Array; of: Uint32Array} {
  let size = 1024
  while (size < of.length * 2) size *= 2
  const ids = new Int32Array(size)
  const mask = size - 1
  for (let id = 0; id < of.length; id++) {
    if (of[id] === 0) continue
    let slot = of[id] & mask
    while (ids[slot] !== 0) slot = (slot + 1) & mask
    ids[slot] = id + 1
  }
  return {ids, of}
}
