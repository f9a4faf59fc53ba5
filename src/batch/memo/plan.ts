import type {RowIndex} from '../../store/results/row-index.js'
import {NL, type Rows} from './rows.js'
import {atLeast, type BufferPool} from '../../util/scratch.js'

/** Rows of a chunk that do not match in place are checked this far ahead for the entries after theirs (rows changed in place). */
const LOOKAHEAD = 8

/**
 * How a chunk's rows were found: runs of rows whose stored results are copied, in order, into
 * `stored` (each followed by '\n'), as (first row, rows, start in stored, end in stored), and the
 * rows not found, which a runner computes.
 */
export interface Plan {
  stored: Buffer
  runs: number[]
  misses: number[]
}

/**
 * Finds the rows of chunks among the stored ones (store/results/row-index.ts), chunk after chunk
 * in input order: each row is looked for where the rows before it say (`next`: the entry after
 * the last one matched), in runs: a run of NDJSON lines is compared with the stored lines in one
 * call, and a run that differs is halved down to its first row that differs, so a re-run over
 * mostly the same file costs a few calls per chunk, not a few per row. A row that differs is
 * taken as changed in place when one of the next LOOKAHEAD rows is where it should be (and is
 * then looked for only among rows stored by later batches), and looked for anywhere otherwise:
 * rows inserted, removed or moved.
 */
export class RowMatcher {
  /** the entry the next row is expected to be; undefined before the first chunk */
  private next: number | undefined
  /** runEnds' answer, written over by each chunk */
  private ends: Int32Array = new Int32Array(0)

  constructor(
    private readonly index: RowIndex,
    private readonly pool: BufferPool,
  ) {}

  /**
   * Which rows of the chunk are stored (their results copied out now, while their packs are read,
   * into a buffer of the pool) and which are not.
   */
  plan(b: Buffer, spans: Int32Array, lines: boolean): Plan | undefined {
    const {index} = this
    const n = spans.length / 2
    const runs: number[] = []
    const misses: number[] = []
    let id = this.next ?? this.start(b, spans)
    const ends = lines ? this.runEnds(spans) : undefined
    for (let i = 0; i < n;) {
      // (runs of lines stop at a blank line: RowIndex.equalsLines compares lines with only '\n' between)
      const left = Math.min(ends ? ends[i] - i : n - i, index.left(id))
      const m = left > 0 ? this.matching(b, spans, i, id, left, lines) : 0
      if (m > 0) {
        runs.push(i, m, id)
        i += m
        id += m
        continue
      }
      // row i is not entry id: rows changed in place (past the last entry: rows added), each
      // perhaps stored elsewhere; or rows inserted, removed or moved: go on from where row i is
      const k = id < index.size ? this.replaced(b, spans, i, id) : 1
      if (k > 0) {
        // (changed again since: stored by a later batch, if at all)
        const later = index.after(id)
        for (const end = i + k; i < end; i++) {
          const found = index.lookup(b, spans[2 * i], spans[2 * i + 1], later)
          if (found >= 0) runs.push(i, 1, found)
          else misses.push(i)
        }
        id += k
        continue
      }
      const found = index.lookup(b, spans[2 * i], spans[2 * i + 1])
      if (found >= 0 && found !== id) id = found
      else misses.push(i++)
    }
    this.next = id
    return copyRuns(index, runs, misses, this.pool)
  }

  /** Where the input's first row is: the first entry of a batch that began with it (a file batched before), else 0. */
  private start(b: Buffer, spans: Int32Array): number {
    return spans.length === 0 ? 0 : Math.max(0, this.index.batchStarting(b, spans[0], spans[1]))
  }

  /** How many rows from row i on are entries id, id + 1, ... (at most `left`, all in one pack). */
  private matching(b: Buffer, spans: Int32Array, i: number, id: number, left: number, lines: boolean): number {
    const {index} = this
    if (!lines || !index.lines(id)) {
      let m = 0
      while (m < left && index.equalsRow(id + m, b, spans[2 * (i + m)], spans[2 * (i + m) + 1])) m++
      return m
    }
    const same = (from: number, count: number) =>
      index.equalsLines(id + from, count, b, spans[2 * (i + from)], spans[2 * (i + from + count - 1) + 1])
    if (same(0, left)) return left
    // rows [0, lo) are the same; [lo, hi) holds one that is not: gallop, then halve
    let lo = 0
    let hi = left
    for (let step = 16; lo + step < hi; step *= 2) {
      if (!same(lo, step)) {
        hi = lo + step
        break
      }
      lo += step
    }
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1
      if (same(lo, mid - lo)) lo = mid
      else hi = mid
    }
    return lo
  }

  /**
   * Row i is not entry id: k when row i + k is entry id + k (rows i .. i + k - 1 changed in
   * place), else 0. Rows at the chunk's end are taken as changed in place: the next chunk's
   * first row tells where it is.
   */
  private replaced(b: Buffer, spans: Int32Array, i: number, id: number): number {
    const n = spans.length / 2
    for (let k = 1; k <= LOOKAHEAD; k++) {
      if (i + k >= n) return k
      if (id + k >= this.index.size) return 0
      if (this.index.equalsRow(id + k, b, spans[2 * (i + k)], spans[2 * (i + k) + 1])) return k
    }
    return 0
  }

  /** For each NDJSON row, the row after the last one that follows it with only '\n' between (no blank line). */
  private runEnds(spans: Int32Array): Int32Array {
    const n = spans.length / 2
    const ends = (this.ends = atLeast(this.ends, n))
    for (let i = n - 1; i >= 0; i--) ends[i] = i + 1 < n && spans[2 * i + 1] + 1 === spans[2 * i + 2] ? ends[i + 1] : i + 1
    return ends
  }
}

/** The stored results of a plan's runs, copied out; undefined when a pack could no longer be read (the chunk then runs whole). */
function copyRuns(index: RowIndex, found: number[], misses: number[], pool: BufferPool): Plan | undefined {
  let size = 0
  for (let r = 0; r < found.length; r += 3) {
    const bytes = index.resultBytes(found[r + 2], found[r + 1])
    if (bytes < 0) return undefined
    size += bytes
  }
  // (no run found: nothing to copy, and no buffer of the pool held by a chunk that runs whole)
  const stored = size === 0 ? Buffer.alloc(0) : pool.take(size)
  const runs: number[] = []
  for (let r = 0, at = 0; r < found.length; r += 3) {
    const bytes = index.copyResults(found[r + 2], found[r + 1], stored, at)
    if (bytes < 0) {
      pool.give(stored)
      return undefined
    }
    runs.push(found[r], found[r + 1], at, at + bytes)
    at += bytes
  }
  return {stored, runs, misses}
}

/** The chunk's output, in a buffer of `pool`: stored runs and computed rows in row order, '\n' between rows. */
export function assemble({stored, runs}: Plan, fresh: Rows, n: number, size: number, pool: BufferPool): Buffer {
  const out = pool.take(size + 1)
  const f = fresh.spans
  let at = 0
  for (let i = 0, r = 0, m = 0; i < n;) {
    if (r < runs.length && runs[r] === i) {
      at += stored.copy(out, at, runs[r + 2], runs[r + 3])
      i += runs[r + 1]
      r += 4
    } else {
      at += fresh.out.copy(out, at, f[2 * m], f[2 * m + 1])
      out[at++] = NL
      m++
      i++
    }
  }
  return out.subarray(0, size)
}
