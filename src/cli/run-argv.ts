import {parseArgs} from 'node:util'
import {cacheDirSpec, runSpec, type Spec} from './spec.js'
import type {LimitFlags} from '../lib/limit-defaults.js'

export interface RunFlags extends LimitFlags {
  input?: string
  'input-file'?: string
  pretty?: boolean
  engine?: string
  json?: boolean
  'cache-dir'?: string
}

const spec: Spec = {...runSpec, ...cacheDirSpec}

/**
 * Parses `burn run` arguments with node:util (no oclif): returns undefined for anything
 * unusual (help, unknown flag, bad option, missing or extra argument) so oclif can answer.
 */
export function parseRunArgv(argv: string[]): {ref: string; flags: RunFlags} | undefined {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(Object.entries(spec).map(([k, s]) => [k, s.char ? {type: s.type, short: s.char} : {type: s.type}])),
        json: {type: 'boolean'},
      },
    })
  } catch {
    return undefined
  }
  const flags = parsed.values as RunFlags & Record<string, unknown>
  if (parsed.positionals.length !== 1) return undefined
  for (const [k, s] of Object.entries(spec)) {
    const v = flags[k]
    if (s.options && typeof v === 'string' && !s.options.includes(v)) return undefined
    if (v === undefined && s.env && process.env[s.env]) flags[k] = process.env[s.env]
  }
  if (flags.input !== undefined && flags['input-file'] !== undefined) return undefined
  return {ref: parsed.positionals[0], flags}
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
