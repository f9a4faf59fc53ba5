/*
 * Lean runners (batch's): one process per core, each running many small jobs in a row for as
 * long as the batch lasts. Left to its defaults, V8 lets such a process grow for a long while:
 * the young generation goes to 2 x 16 MiB, and the old generation fills with garbage before a
 * full GC (JSON.parse makes every string value of up to 10 characters, e.g. "user123", an
 * internalized string, allocated in the old generation at once). Measured on 1M rows through
 * one process (a runner's work alone): peak 123 MB by default, 100 MB with the flags below, 70
 * MB with the flags and collectGarbage, for about the same CPU time.
 *
 * --max-semi-space-size=4: 4 MiB semi-spaces still hold a chunk's short-lived garbage. The flag
 * is part of V8's flag hash, which is part of cachedDataVersionTag, so a runner started with it
 * would reject every code cache made by a plain process (tested: cachedDataRejected) and differ
 * from burn's engine tag. It only sizes the heap, which V8 does once, when the process starts:
 * the runner puts the flag back to its default right away (restoreFlagHash), which restores the
 * hash, and the heap keeps its size. executeJob still compares the tags, so a V8 that behaved
 * otherwise would fail loudly, never run with a rejected cache. A semi-space size the user gave
 * burn (in its flags or NODE_OPTIONS) is left as it is.
 *
 * --single-threaded-gc: no GC helper threads. Batch runs one runner per core, so helpers only
 * take time from the other runners (two at once, 500k rows each, 2 cores: 0.92-1.07 s of CPU
 * each, against 1.02-1.09 s with helpers). It is not part of the flag hash.
 */
import {getHeapStatistics, setFlagsFromString} from 'node:v8'
import {measureMemory} from 'node:vm'

const SEMI_SPACE = /--max[-_]semi[-_]space[-_]size/
const LEAN_ENV = 'BURN_RUNNER_LEAN'
/** Set for a runner whose semi-space size burn added. */
const RESTORE_ENV = 'BURN_RUNNER_RESTORE_SEMI_SPACE'

/** The execArgv and environment of a lean runner, from burn's own. */
export function leanRunner(execArgv: string[], env: NodeJS.ProcessEnv): {execArgv: string[]; env: NodeJS.ProcessEnv} {
  const lean = {execArgv: [...execArgv, '--single-threaded-gc'], env: {...env, [LEAN_ENV]: '1'}}
  if (execArgv.some((a) => SEMI_SPACE.test(a)) || SEMI_SPACE.test(env.NODE_OPTIONS ?? '')) return lean
  return {execArgv: [...lean.execArgv, '--max-semi-space-size=4'], env: {...lean.env, [RESTORE_ENV]: '1'}}
}

/** In a runner, first thing: back to the flag hash of burn's own process. */
export function restoreFlagHash(): void {
  if (process.env[RESTORE_ENV]) setFlagsFromString('--max-semi-space-size=0')
}

/** A full GC once the heap grew by this much since the last one, or by what the last one left, if more. */
const COLLECT_GROWTH_BYTES = 8 * 1024 * 1024
let heapAfterCollect = 0

/**
 * In a lean runner, between jobs: a full GC when the heap grew by COLLECT_GROWTH_BYTES since the
 * last one (about one per 100k small rows, about 8 ms each). A GC takes time in proportion to
 * what is live, so a script that keeps a large state gets one only after a growth as large as
 * that state: the share of time spent in these GCs stays bounded, whatever the script keeps. The
 * next chunk's deadline already runs meanwhile (a few ms, against a --timeout of seconds).
 */
export async function collectGarbage(): Promise<void> {
  if (!process.env[LEAN_ENV] || getHeapStatistics().used_heap_size < heapAfterCollect + Math.max(COLLECT_GROWTH_BYTES, heapAfterCollect))
    return
  try {
    await fullGc()
  } catch {
    // only an optimization: the pool still replaces a runner that grew too much
  }
  heapAfterCollect = getHeapStatistics().used_heap_size
}

/**
 * vm.measureMemory with eager execution is the one way to ask V8 for a full GC without
 * --expose-gc, which would change the flag hash too. It is marked experimental, and its one
 * warning would only land in the user's stderr, amid the rows: node looks up
 * process.emitWarning when it warns, synchronously, so that warning alone is dropped here.
 */
function fullGc(): Promise<unknown> {
  const emitWarning = process.emitWarning
  process.emitWarning = () => {}
  try {
    return measureMemory({mode: 'summary', execution: 'eager'})
  } finally {
    process.emitWarning = emitWarning
  }
}
