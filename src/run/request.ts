import {parseSpecArgv} from '../cli/argv.js'
import {cacheDirSpec, runSpec, type Spec} from '../cli/spec.js'
import type {LimitFlags} from '../cli/limit-defaults.js'

export interface RunFlags extends LimitFlags {
  input?: string
  'input-file'?: string
  pretty?: boolean
  engine?: string
  json?: boolean
  'cache-dir'?: string
}

const spec: Spec = {...runSpec, ...cacheDirSpec}

/** `burn run`'s arguments without oclif (see parseSpecArgv). */
export function parseRunArgv(argv: string[]): {ref: string; flags: RunFlags} | undefined {
  return parseSpecArgv(argv, spec) as {ref: string; flags: RunFlags} | undefined
}

/** The argv that parseRunArgv reads back as these flags (from oclif's parse). */
export function toRunArgv(ref: string, flags: Record<string, unknown>): string[] {
  const out: string[] = []
  for (const k of [...Object.keys(spec), 'json']) {
    const v = flags[k]
    if (v === true) out.push(`--${k}`)
    else if (typeof v === 'string') out.push(`--${k}=${v}`)
  }
  return [...out, '--', ref]
}
