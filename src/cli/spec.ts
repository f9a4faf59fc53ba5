// Flag specs as plain data: the oclif commands turn them into oclif flags (cli/flags.ts), and
// the fast paths of `burn run` and `burn batch` (cli/argv.ts) parse the same specs with
// node:util parseArgs without loading oclif at all. One definition, two parsers, no drift.
import {DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_ROWS} from './batch-defaults.js'
import {DEFAULT_LIMITS, MEMORY_FLOOR_BYTES} from './limit-defaults.js'
import {REMOTE_MODES} from '../store/remote/config.js'

export interface FlagSpec {
  type: 'string' | 'boolean' | 'integer'
  /** integer flags: the smallest value accepted */
  min?: number
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
  'cache-dir': {
    type: 'string',
    env: 'BURN_CACHE_DIR',
    helpValue: '<dir>',
    description: 'Cache directory (default: the platform cache dir, e.g. ~/.cache/burn).',
  },
}

export const engineSpec: Spec = {
  // No default: "not given" means the engine the script was registered for (lib/trust.ts).
  engine: {
    type: 'string',
    char: 'e',
    options: ['v8', 'quickjs'],
    description:
      'Engine: v8 (trusted code, fastest) or quickjs (sandbox for untrusted code). ' +
      'Default: the engine the script was registered for (quickjs if both); register: v8 for a new script. ' +
      'v8 runs only scripts registered for it.',
  },
}

export const limitSpec: Spec = {
  timeout: {
    type: 'string',
    char: 't',
    helpValue: '<duration>',
    description: `Wall-clock limit per call, e.g. 500ms, 5s (default ${DEFAULT_LIMITS.timeout}).`,
  },
  memory: {
    type: 'string',
    char: 'm',
    helpValue: '<size>',
    description:
      `Memory the script may add to its runner, e.g. 64MiB ` +
      `(default ${DEFAULT_LIMITS.memory}, at least ${MEMORY_FLOOR_BYTES / 1048576}MiB).`,
  },
  fuel: {type: 'string', helpValue: '<n>', description: 'Deterministic instruction budget (quickjs engine; default: unlimited).'},
  'max-output': {type: 'string', helpValue: '<size>', description: `Largest result JSON, in bytes (default ${DEFAULT_LIMITS.maxOutput}).`},
  'max-log': {type: 'string', helpValue: '<size>', description: `Largest console output of the script (default ${DEFAULT_LIMITS.maxLog}).`},
}

/** The shared remote cache (README, "Shared remote cache"); override BURN_REMOTE and BURN_REMOTE_MODE. */
export const remoteSpec: Spec = {
  remote: {
    type: 'string',
    helpValue: '<url>',
    description: 'Shared remote cache: redis://[user@]host[:port][/db], rediss://... or unix:///path (default: BURN_REMOTE).',
  },
  'remote-mode': {
    type: 'string',
    options: [...REMOTE_MODES],
    description: 'read-write publishes what is stored; read-only only fetches; off never connects (default: BURN_REMOTE_MODE, read-write).',
  },
}

export const runSpec: Spec = {
  input: {type: 'string', char: 'i', helpValue: '<json>', description: 'Input as a JSON text.', exclusive: ['input-file']},
  'input-file': {
    type: 'string',
    char: 'f',
    helpValue: '<file|->',
    description: 'Read the input JSON from a file, or - for stdin.',
    exclusive: ['input'],
  },
  pretty: {type: 'boolean', char: 'p', description: 'Indent the result JSON.'},
  ...engineSpec,
  ...limitSpec,
  memo: {
    type: 'boolean',
    description:
      'Print the stored result of the same script, engine, input and --fuel without running it; ' +
      'store the result of a successful run (console output is not replayed). With a remote cache and BURN_REMOTE_KEY, ' +
      'a local miss asks the remote and a computed result is published, sealed.',
  },
  'idempotency-key': {
    type: 'string',
    helpValue: '<key>',
    description:
      'Record the result under this key; a repeat with the same input prints it without running, ' +
      'another input under the same key exits 7.',
  },
}

export const batchSpec: Spec = {
  'input-file': {type: 'string', char: 'f', helpValue: '<file|->', description: 'Read rows from a file, or - for stdin (the default).'},
  'input-format': {
    type: 'string',
    options: ['auto', 'json', 'ndjson'],
    default: 'auto',
    description: 'auto: a JSON array if the first non-blank byte is [, else NDJSON.',
  },
  output: {
    type: 'string',
    char: 'o',
    helpValue: '<file>',
    description: 'Write rows to a file (atomically: it appears only if the batch succeeds) instead of stdout.',
  },
  'output-format': {type: 'string', options: ['ndjson', 'json'], default: 'ndjson', description: 'One row per line, or one JSON array.'},
  'chunk-size': {
    type: 'integer',
    char: 'n',
    min: 0,
    helpValue: '<rows>',
    description:
      `Rows per call; 0 = the whole input in one call ` +
      `(default ${DEFAULT_CHUNK_ROWS} rows, and at most ${DEFAULT_CHUNK_BYTES / 1024 / 1024} MiB of input per chunk).`,
  },
  concurrency: {
    type: 'integer',
    char: 'c',
    min: 1,
    helpValue: '<n>',
    description: 'Chunks running at once, one runner process each (default: number of CPUs).',
  },
  'on-error': {
    type: 'string',
    options: ['fail', 'skip', 'emit'],
    default: 'fail',
    description: 'A failed chunk: stop (fail), drop it (skip), or drop it and report it on stderr as JSON (emit).',
  },
  progress: {type: 'boolean', description: 'Show progress and the summary on stderr even when stderr is not a terminal.'},
  memo: {
    type: 'boolean',
    description:
      'Write the stored result of each row seen before (same script, engine, --fuel and row bytes) without running it; ' +
      'run only the other rows and store their results (console output is not replayed).',
  },
  ...engineSpec,
  ...limitSpec,
}
