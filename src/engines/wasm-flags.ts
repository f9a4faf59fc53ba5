import {cachedDataVersionTag, setFlagsFromString} from 'node:v8'
import {onRestore} from './v8-flags.js'

/*
 * V8 flags for QuickJS's wasm. --wasm-inlining (experimental in Node 20's V8 11.3, on by default
 * in later V8s) lets TurboFan inline QuickJS's small C functions into their callers: a 100k-row
 * JSON map in a fresh process took ~20% less time (bench/limits.mjs). V8 reads it when it
 * compiles the module (it implies a wasm feature flag captured then), so it is set before.
 *
 * Every V8 flag is part of cachedDataVersionTag, so a process with it set would reject the v8
 * engine's code caches and compute another engine tag. Only processes that run quickjs set it,
 * and the v8 engine tag puts it back first (engineTag calls restoreV8Flags): a daemon runner
 * made ready for a quickjs call and then given a v8 one computes the same tag as any process.
 * Tuned only on V8 11, where putting both flags back was measured to restore the tag exactly;
 * elsewhere nothing is changed.
 */
const TUNABLE = /^11\./.test(process.versions.v8)
let tuned = false

export function tuneWasmForQuickjs(): void {
  if (!TUNABLE || tuned) return
  tuned = true
  const before = cachedDataVersionTag()
  setFlagsFromString('--wasm-inlining')
  // Already on (the user's own flags): nothing of ours to put back.
  if (cachedDataVersionTag() === before) return
  onRestore(() => {
    tuned = false
    setFlagsFromString('--no-wasm-inlining')
    // --wasm-inlining turned this one on too, unless the user had: undone only if it was ours.
    if (cachedDataVersionTag() !== before) setFlagsFromString('--no-experimental-wasm-inlining')
  })
}
