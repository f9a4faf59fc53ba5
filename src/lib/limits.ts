import type {Limits} from './engines/protocol.js'
import {parseCount, parseDuration, parseSize} from './units.js'

// Documented defaults (README "Limits", and each flag's help).
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

export function parseLimits(flags: LimitFlags): Limits {
  return {
    timeoutMs: parseDuration(flags.timeout ?? DEFAULT_LIMITS.timeout, '--timeout'),
    memoryBytes: parseSize(flags.memory ?? DEFAULT_LIMITS.memory, '--memory'),
    fuel: flags.fuel === undefined ? undefined : parseCount(flags.fuel, '--fuel'),
    maxOutputBytes: parseSize(flags['max-output'] ?? DEFAULT_LIMITS.maxOutput, '--max-output'),
    maxLogBytes: parseSize(flags['max-log'] ?? DEFAULT_LIMITS.maxLog, '--max-log'),
  }
}
