// Documented defaults (README "Limits", and each flag's help). Apart from the parsers in
// limits.ts, so that the flag specs (and `burn run`'s client) load without them.
export const DEFAULT_LIMITS = {
  timeout: '5s',
  memory: '512MiB',
  maxOutput: '64MiB',
  maxLog: '1MiB',
} as const

export interface LimitFlags {
  timeout?: string
  memory?: string
  fuel?: string
  'max-output'?: string
  'max-log'?: string
}
