// Flag specs as plain data: the oclif commands turn them into oclif flags (cli/flags.ts), and
// `burn run`'s fast path (cli/fast-run.ts) parses the same specs with node:util parseArgs
// without loading oclif at all. One definition, two parsers, no drift.
import {DEFAULT_LIMITS} from '../lib/limit-defaults.js'

export interface FlagSpec {
  type: 'string' | 'boolean'
  char?: string
  description: string
  options?: string[]
  default?: string
  env?: string
  helpValue?: string
  exclusive?: string[]
  multiple?: boolean
}
export type Spec = Record<string, FlagSpec>

export const cacheDirSpec: Spec = {
  'cache-dir': {type: 'string', env: 'BURN_CACHE_DIR', helpValue: '<dir>', description: 'Cache directory (default: the platform cache dir, e.g. ~/.cache/burn).'},
}

export const engineSpec: Spec = {
  engine: {type: 'string', char: 'e', options: ['v8', 'quickjs'], default: 'v8', description: 'Engine: v8 (trusted code, fastest) or quickjs (sandbox for untrusted code).'},
}

export const limitSpec: Spec = {
  timeout: {type: 'string', char: 't', helpValue: '<duration>', description: `Wall-clock limit per call, e.g. 500ms, 5s (default ${DEFAULT_LIMITS.timeout}).`},
  memory: {type: 'string', char: 'm', helpValue: '<size>', description: `Memory the script may add to its runner, e.g. 64MiB (default ${DEFAULT_LIMITS.memory}).`},
  fuel: {type: 'string', helpValue: '<n>', description: 'Deterministic instruction budget (quickjs engine; default: unlimited).'},
  'max-output': {type: 'string', helpValue: '<size>', description: `Largest result JSON, in bytes (default ${DEFAULT_LIMITS.maxOutput}).`},
  'max-log': {type: 'string', helpValue: '<size>', description: `Largest console output of the script (default ${DEFAULT_LIMITS.maxLog}).`},
}

export const runSpec: Spec = {
  input: {type: 'string', char: 'i', helpValue: '<json>', description: 'Input as a JSON text.', exclusive: ['input-file']},
  'input-file': {type: 'string', char: 'f', helpValue: '<file|->', description: 'Read the input JSON from a file, or - for stdin.', exclusive: ['input']},
  pretty: {type: 'boolean', char: 'p', description: 'Indent the result JSON.'},
  ...engineSpec,
  ...limitSpec,
}
