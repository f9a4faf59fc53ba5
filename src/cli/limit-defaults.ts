// Documented defaults (README "Limits", and each flag's help). Apart from the parsers in
// limits.ts, so that the flag specs (and `burn run`'s client) load without them.
export const DEFAULT_LIMITS = {
  timeout: '5s',
  memory: '512MiB',
  maxOutput: '64MiB',
  maxLog: '1MiB',
} as const

/**
 * The smallest --memory (exit 2 below it). A script that does nothing passed 10 runs in 10 from
 * 4 MiB up on both engines, and failed now and then at 2 MiB (the watchdog reads the runner's
 * resident memory, which moves by a few MiB with no help from the script; quickjs's heap also
 * needs about 1 MiB for its own context): twice that, so the outcome only grows with the limit.
 */
export const MEMORY_FLOOR_BYTES = 8 * 1024 * 1024

export interface LimitFlags {
  timeout?: string
  memory?: string
  fuel?: string
  'max-output'?: string
  'max-log'?: string
}
