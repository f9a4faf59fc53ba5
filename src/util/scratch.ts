/**
 * A scratch array that holds at least `n` items: `a` itself when it does, else a new one a quarter
 * longer than asked, so the next ask, a little longer, fits too. Hot paths that run once a chunk
 * or once a pack write over one array instead of making one each time.
 */
export function atLeast(a: Int32Array | undefined, n: number): Int32Array {
  return a && a.length >= n ? a : new Int32Array(n + (n >> 2))
}
