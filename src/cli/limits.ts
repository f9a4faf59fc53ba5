import type {Limits} from '../engines/protocol.js'
import {usageError} from '../util/errors.js'
import {formatSize, parseCount, parseDuration, parseSize} from '../util/units.js'

import {DEFAULT_LIMITS, MEMORY_FLOOR_BYTES, type LimitFlags} from './limit-defaults.js'

export {DEFAULT_LIMITS, type LimitFlags}

export function parseLimits(flags: LimitFlags, engine?: string): Limits {
  if (engine !== undefined) refuseFuel(flags.fuel, engine)
  return {
    timeoutMs: parseDuration(flags.timeout ?? DEFAULT_LIMITS.timeout, '--timeout'),
    memoryBytes: parseMemory(flags.memory ?? DEFAULT_LIMITS.memory),
    fuel: flags.fuel === undefined ? undefined : parseCount(flags.fuel, '--fuel'),
    maxOutputBytes: parseSize(flags['max-output'] ?? DEFAULT_LIMITS.maxOutput, '--max-output'),
    maxLogBytes: parseSize(flags['max-log'] ?? DEFAULT_LIMITS.maxLog, '--max-log'),
  }
}

/**
 * Fuel is an instruction count only QuickJS can keep; silently ignoring it on v8 would let a
 * user believe a budget holds that does not. (`engine`: the one the call runs on, which may be
 * known only once the script is resolved: its registered engine.)
 */
export function refuseFuel(fuel: unknown, engine: string): void {
  if (fuel !== undefined && engine !== 'quickjs') {
    throw usageError('--fuel applies to the quickjs engine only; add --engine quickjs, or use --timeout on v8')
  }
}

function parseMemory(value: string): number {
  const bytes = parseSize(value, '--memory')
  if (bytes < MEMORY_FLOOR_BYTES) {
    throw usageError(
      `invalid --memory ${JSON.stringify(value)}: give at least ${formatSize(MEMORY_FLOOR_BYTES)} ` +
        "(a runner's own memory moves by a few MiB while a script runs)",
    )
  }
  return bytes
}
