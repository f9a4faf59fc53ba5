/**
 * Calls `fn` for each item, at most `width` calls in flight, started in item order; no new call
 * starts once `more()` is false. The one worker pool of register and evict. Batch's pipeline has
 * its own: it also bounds its read-ahead and writes results in input order.
 */
export async function eachConcurrently<T>(
  items: readonly T[],
  width: number,
  fn: (item: T, index: number) => Promise<void>,
  more: () => boolean = () => true,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length && more()) {
      const i = next++
      await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({length: Math.max(1, width)}, worker))
}
