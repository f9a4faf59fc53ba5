import type {Limits} from './engines/protocol.js'
import {usageError} from './errors.js'
import {parseCount, parseDuration, parseSize} from './units.js'

import {DEFAULT_LIMITS, type LimitFlags} from './limit-defaults.js'

export {DEFAULT_LIMITS, type LimitFlags}

export function parseLimits(flags: LimitFlags, engine?: string): Limits {
  // Fuel is an instruction count only QuickJS can keep; silently ignoring it on v8 would
  // let a user believe a budget holds that does not.
  if (flags.fuel !== undefined && engine !== undefined && engine !== 'quickjs') {
    throw usageError('--fuel applies to the quickjs engine only; add --engine quickjs, or use --timeout on v8')
  }
  return {
    timeoutMs: parseDuration(flags.timeout ?? DEFAULT_LIMITS.timeout, '--timeout'),
    memoryBytes: parseSize(flags.memory ?? DEFAULT_LIMITS.memory, '--memory'),
    fuel: flags.fuel === undefined ? undefined : parseCount(flags.fuel, '--fuel'),
    maxOutputBytes: parseSize(flags['max-output'] ?? DEFAULT_LIMITS.maxOutput, '--max-output'),
    maxLogBytes: parseSize(flags['max-log'] ?? DEFAULT_LIMITS.maxLog, '--max-log'),
  }
}
