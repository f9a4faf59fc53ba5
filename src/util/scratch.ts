/**
 * A scratch array that holds at least `n` items: `a` itself when it does, else a new one a quarter
 * longer than asked, so the next ask, a little longer, fits too. Hot paths that run once a chunk
 * or once a pack write over one array instead of making one each time.
 */
export function atLeast(a: Int32Array | undefined, n: number): Int32Array {
  return a && a.length >= n ? a : new Int32Array(n + (n >> 2))
}

/**
 * atLeast for bytes: `b` itself when it holds `n`, else a new buffer a quarter longer, not zeroed
 * and of its own (allocUnsafeSlow: never a slice of node's shared 8 KiB slab, so it can be handed
 * on and filled again without touching anyone else's bytes).
 */
export function bytesAtLeast(b: Buffer | undefined, n: number): Buffer {
  return b && b.length >= n ? b : Buffer.allocUnsafeSlow(n + (n >> 2))
}

/**
 * Buffers handed back once their bytes are used (written out), to be filled again. Fresh memory
 * is what costs here: on the 2-core VM bench/ runs on, each 4 KiB page a process touches for
 * the first time costs ~11 us, so 1,000 new 50 KB buffers take ~90 ms to fill, against ~1.5 ms
 * for the same buffers reused (/tmp micro-benchmark, 2026-12-05). A `batch --memo` re-run filled
 * two new buffers per chunk, ~50 MB over 1M rows. At most `keep` buffers wait in the pool, and
 * none larger than `largest` bytes, so it holds little memory once the hot loop is over.
 */
export class BufferPool {
  private readonly free: Buffer[] = []

  constructor(
    private readonly keep = 32,
    private readonly largest = 8 * 1024 * 1024,
  ) {}

  /**
   * `size` bytes, not zeroed: a view of the smallest buffer given back earlier that is large
   * enough, else of a new one. (The pool holds at most keep x largest bytes, 256 MiB; chunks of
   * the default size need ~60 KB each.)
   */
  take(size: number): Buffer {
    const {free} = this
    let best = -1
    for (let i = 0; i < free.length; i++) if (free[i].length >= size && (best < 0 || free[i].length < free[best].length)) best = i
    if (best >= 0) {
      const b = free[best]
      free[best] = free[free.length - 1]
      free.pop()
      return b.subarray(0, size)
    }
    return bytesAtLeast(undefined, size).subarray(0, size)
  }

  /** A buffer from `take` whose bytes are no longer read: its memory is filled again by a later take. */
  give(view: Buffer): void {
    const {free} = this
    // (a buffer given back twice would be handed to two takers, each writing over the other's bytes)
    const bytes = view.buffer.byteLength
    if (bytes === 0 || bytes > this.largest || free.length >= this.keep || free.some((b) => b.buffer === view.buffer)) return
    free.push(Buffer.from(view.buffer, 0, view.buffer.byteLength))
  }
}
