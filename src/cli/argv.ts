import {parseArgs} from 'node:util'
import type {Spec} from './spec.js'

/**
 * Parses a command's arguments with node:util against its flag spec, for the fast paths that do
 * not load oclif: one positional argument, the spec's flags and --json. Returns undefined for
 * anything unusual (help, unknown flag, bad option or integer, missing or extra argument, two
 * exclusive flags), so that oclif answers with its own usage message. Defaults are not filled
 * in; environment variables named by the spec are.
 */
export function parseSpecArgv(argv: string[], spec: Spec): {ref: string; flags: Record<string, unknown>} | undefined {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(
          Object.entries(spec).map(([k, s]) => {
            const type = s.type === 'boolean' ? 'boolean' : 'string'
            return [k, s.char ? {type, short: s.char} : {type}]
          }),
        ),
        json: {type: 'boolean'},
      },
    })
  } catch {
    return undefined
  }
  const flags: Record<string, unknown> = parsed.values
  if (parsed.positionals.length !== 1) return undefined
  for (const [k, s] of Object.entries(spec)) {
    const v = flags[k]
    if (s.options && typeof v === 'string' && !s.options.includes(v)) return undefined
    if (s.type === 'integer' && typeof v === 'string') {
      // oclif's own test for an integer flag
      if (!/^-?\d+$/.test(v) || Number(v) < (s.min ?? -Infinity)) return undefined
      flags[k] = Number(v)
    }
    if (v === undefined && s.env && process.env[s.env]) flags[k] = process.env[s.env]
    if (v !== undefined && s.exclusive?.some((x) => flags[x] !== undefined)) return undefined
  }
  return {ref: parsed.positionals[0], flags}
}
