import {parseLimits} from '../cli/limits.js'
import type {Limits} from '../engines/protocol.js'
import type {CallLimits} from './types.js'

const text = (v: number | string | undefined) => (v === undefined ? undefined : String(v))

/**
 * A call's limits through the CLI's own parser and defaults, so a limit reads, defaults and is
 * refused (exit 2, the flag's message) exactly as its flag; `base` fills what the call leaves out.
 */
export function callLimits(given: CallLimits | undefined, base?: CallLimits, engine?: string): Limits {
  const l = {...base, ...given}
  return parseLimits(
    {
      timeout: text(l.timeout),
      memory: text(l.memory),
      fuel: text(l.fuel),
      'max-output': text(l.maxOutput),
      'max-log': text(l.maxLog),
    },
    engine,
  )
}

/** Whether a call's options say anything about limits (most calls don't: they share the cache's parsed defaults). */
export function hasLimits(o: CallLimits | undefined): boolean {
  return o !== undefined && (o.timeout ?? o.memory ?? o.fuel ?? o.maxOutput ?? o.maxLog) !== undefined
}
