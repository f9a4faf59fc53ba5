import {parseArgs} from 'node:util'
import {renderError} from './render.js'
import {runAction, type RunFlags} from './run-action.js'
import {cacheDirSpec, runSpec, type Spec} from './spec.js'

/*
 * `burn run` without oclif: loading @oclif/core alone costs about 90 ms, more than the whole
 * run of a cached script. The flags are the same specs the oclif command uses. Anything
 * unusual (help, a parse error, a missing argument) returns false and oclif handles it, so
 * usage messages stay oclif's.
 */
export async function fastRun(argv: string[]): Promise<boolean> {
  const spec: Spec = {...runSpec, ...cacheDirSpec}
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(Object.entries(spec).map(([k, s]) => [k, {type: s.type, short: s.char}])),
        json: {type: 'boolean'},
      },
    })
  } catch {
    return false
  }
  const flags = parsed.values as RunFlags & Record<string, unknown>
  if (parsed.positionals.length !== 1 || flags.help) return false
  for (const [k, s] of Object.entries(spec)) {
    const v = flags[k]
    if (s.options && typeof v === 'string' && !s.options.includes(v)) return false
    if (v === undefined && s.env && process.env[s.env]) (flags as Record<string, unknown>)[k] = process.env[s.env]
  }
  if (flags.input !== undefined && flags['input-file'] !== undefined) return false
  try {
    const out = await runAction(parsed.positionals[0], flags)
    process.stdout.write(flags.json ? JSON.stringify({hash: out.hash, cache: out.cache, result: out.result}) + '\n' : out.text + '\n')
  } catch (error) {
    process.exitCode = renderError(error, Boolean(flags.json))
  }
  return true
}
