import {cachedDataVersionTag, setFlagsFromString} from 'node:v8'
import {onRestore} from './v8-flags.js'

/*
 * V8 flags for QuickJS's wasm, both read when V8 compiles the module, so set before:
 *
 * - --wasm-inlining (experimental in Node 20's V8 11.3, on by default in later V8s) lets TurboFan
 *   inline QuickJS's small C functions into their callers: a 100k-row JSON map in a fresh process
 *   took ~20% less time (bench/limits.mjs).
 * - --wasm-tiering-budget 150M instead of 1.8M, in a process that makes a few calls and exits
 *   (a direct `burn run`'s child, register's syntax checks): how much a function runs before
 *   TurboFan compiles it. With the default, making one QuickJS context sends hundreds of
 *   functions that ran a few times each to TurboFan on background threads, CPU spent on code the
 *   process never runs again: a tiny quickjs `burn run`'s child 0.59 -> 0.31 s of CPU, a quickjs
 *   register 0.58 -> 0.40 s. Functions that really are hot still tier up within the call: a
 *   20k-row map in one call took less CPU (0.84 -> 0.74 s), a 200k-row one the same, a
 *   10M-iteration loop less time. A run daemon's runner and a batch keep the default: they make
 *   their sandbox before the call comes or run many rows, and the early tier-up is what makes
 *   their calls fast (a 100M budget made a heavy call through the daemon 23% slower, a 150M one
 *   a 200k-row batch ~15% slower). README.md, "Performance", has the figures.
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
const QUICKJS_BUDGET = 150_000_000
let tuned = false
let fewCalls = false

/** This process makes one or a few quickjs calls and exits: the tiering budget above applies. */
export function tuneQuickjsForFewCalls(): void {
  fewCalls = true
}

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
  if (!fewCalls || process.execArgv.some((a) => /^--wasm[-_]tiering[-_]budget\b/.test(a))) return undefined
  setFlagsFromString(`--wasm-tiering-budget=${QUICKJS_BUDGET}`)
  return () => setFlagsFromString(`--wasm-tiering-budget=${DEFAULT_BUDGET}`)
}
