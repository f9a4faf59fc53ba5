import {Flags, type Interfaces} from '@oclif/core'
import type {Spec} from '../cli/spec.js'

/** oclif flags from a plain spec (see spec.ts). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function oclifFlags(spec: Spec): Interfaces.FlagInput<any> {
  const out: Record<string, unknown> = {}
  for (const [name, s] of Object.entries(spec)) {
    const common = {char: s.char as never, description: s.description, exclusive: s.exclusive, env: s.env}
    out[name] =
      s.type === 'boolean'
        ? Flags.boolean(common)
        : s.type === 'integer'
          ? Flags.integer({...common, min: s.min, helpValue: s.helpValue})
          : Flags.string({...common, options: s.options, default: s.default, helpValue: s.helpValue})
  }
  return out as Interfaces.FlagInput<never>
}

/** verify and gc: each step's time, as a table after the report, or `steps` in --json (left out without it). */
export const timingsFlag = Flags.boolean({description: 'Also report how long each step took ("steps" in --json).'})
