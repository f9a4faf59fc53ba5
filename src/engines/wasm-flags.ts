import {cachedDataVersionTag, setFlagsFromString} from 'node:v8'
import {onRestore} from './v8-flags.js'

/*
 * V8 flags for QuickJS's wasm, both read when V8 compiles the module, so set before:
 *
 * - --wasm-inlining (experimental in Node 20's V8 11.3, on by default in later V8s) lets TurboFan
 *   inline QuickJS's small C functions into their callers: a 100k-row JSON map in a fresh process
 *   took ~20% less time (bench/limits.mjs).
 * - --wasm-tiering-budget 50M instead of 1.8M: how much a function runs before TurboFan compiles
 *   it. With the default, making one QuickJS context sends hundreds of functions that ran a few
 *   times each to TurboFan, on background threads: ~0.25 s of CPU in every process that makes a
 *   sandbox (a one-call run child, a register, a daemon runner), spent on code it never runs
 *   again. Functions that really are hot still tier up within the first call: a 200k-row batch
 *   took the same time, a 10M-iteration loop in one `burn run` less (it no longer waits for
 *   threads busy compiling cold code). Measured in the closing note of session 18.
 *
 * Every V8 flag is part of cachedDataVersionTag, so a process with them set would reject the v8
 * engine's code caches and compute another engine tag. Only processes that run quickjs set them,
 * and the v8 engine tag puts them back first (engineTag calls restoreV8Flags): a daemon runner
 * made ready for a quickjs call and then given a v8 one computes the same tag as any process.
 * Tuned only on V8 11, where putting the flags back was measured to restore the tag exactly;
 * elsewhere nothing is changed. A budget the user gave node itself is left alone.
 */
const TUNABLE = /^11\./.test(process.versions.v8)
const DEFAULT_BUDGET = 1_800_000
const QUICKJS_BUDGET = 50_000_000
let tuned = false

export function tuneWasmForQuickjs(): void {
  if (!TUNABLE || tuned) return
  tuned = true
  const undo = [inlining(), tieringBudget()].filter((u) => u !== undefined)
  if (undo.length > 0)
    onRestore(() => {
      tuned = false
      // the last set first: inlining's undo compares the tag with the one before it was set
      for (const u of undo.reverse()) u()
    })
}

function inlining(): (() => void) | undefined {
  const before = cachedDataVersionTag()
  setFlagsFromString('--wasm-inlining')
  // Already on (the user's own flags): nothing of ours to put back.
  if (cachedDataVersionTag() === before) return undefined
  return () => {
    setFlagsFromString('--no-wasm-inlining')
    // --wasm-inlining turned this one on too, unless the user had: undone only if it was ours.
    if (cachedDataVersionTag() !== before) setFlagsFromString('--no-experimental-wasm-inlining')
  }
}

function tieringBudget(): (() => void) | undefined {
  if (process.execArgv.some((a) => /^--wasm[-_]tiering[-_]budget\b/.test(a))) return undefined
  setFlagsFromString(`--wasm-tiering-budget=${QUICKJS_BUDGET}`)
  return () => setFlagsFromString(`--wasm-tiering-budget=${DEFAULT_BUDGET}`)
}
