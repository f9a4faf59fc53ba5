import {cachedDataVersionTag} from './version-tag.js'
import {restoreV8Flags} from './v8-flags.js'

export type EngineName = 'v8' | 'quickjs'
export const ENGINES: EngineName[] = ['v8', 'quickjs']
export const QUICKJS_VERSION = '0.32.0'

/**
 * The key of compiled forms: everything that decides whether V8 accepts a code cache.
 * `cachedDataVersionTag()` folds in the V8 version, the V8 flags and the CPU features, so a
 * runner started with another --max-old-space-size (or NODE_OPTIONS) gets another tag instead
 * of a silently rejected cache. Runners are forked with the parent's exact execArgv and
 * environment, so the tag computed here is the runner's tag too (the runner re-checks); the
 * flags that batch's lean runners add leave their tag as it is (lean-runner.ts), and so do
 * those the quickjs engine sets (wasm-flags.ts): they are put back first.
 */
export function engineTag(engine: EngineName): string {
  if (engine === 'quickjs') return `quickjs-${QUICKJS_VERSION}`
  restoreV8Flags()
  return `v8-node${process.versions.node}-${process.arch}-${cachedDataVersionTag().toString(16)}`
}

export function checkEngine(name: string): EngineName {
  if (name === 'v8' || name === 'quickjs') return name
  throw new Error(`unknown engine ${name}`)
}
