import {parseSpecArgv} from '../cli/argv.js'
import {parseLimits, type LimitFlags} from '../cli/limits.js'
import {cacheDirSpec, remoteSpec, runSpec} from '../cli/spec.js'
import type {Limits} from '../engines/protocol.js'
import type {EngineName} from '../engines/tag.js'
import {defaultCacheDir} from '../store/cache-dir.js'
import {isValidName} from '../store/layout.js'
import {usageError} from '../util/errors.js'

export interface RunFlags extends LimitFlags {
  input?: string
  'input-file'?: string
  pretty?: boolean
  engine?: string
  json?: boolean
  'cache-dir'?: string
  remote?: string
  'remote-mode'?: string
  memo?: boolean
  'idempotency-key'?: string
}

/** Where a call's input JSON comes from (cli/input.ts reads it). */
export type InputSource =
  /** --input */
  | {from: 'text'; text: string}
  /** --input-file <path> */
  | {from: 'file'; path: string}
  /** --input-file -: standard input, as it is */
  | {from: 'stdin'}
  /** neither: standard input unless it is a terminal (then, or when it is blank, null) */
  | {from: 'stdin-or-null'}

/** plain: the result JSON as the script made it; pretty: indented (--pretty); json: {hash, cache, result} (--json). */
export type OutputMode = 'plain' | 'pretty' | 'json'

/**
 * One `burn run`, parsed once by the process the user started (fast-run.ts, or the oclif
 * command) and handed on as data: to the run daemon in its request frame (daemon/frames.ts),
 * and to the run child (child.ts), which parse nothing.
 */
export interface RunRequest {
  /** the script: full hash, unique prefix or name */
  ref: string
  input: InputSource
  /** --engine; absent: the engine the script was registered for */
  engine?: EngineName
  limits: Limits
  /**
   * --fuel without --engine: the usage error the call ends with once its script turns out not
   * to be quickjs's (parseLimits' own message; the engine is known only in the child).
   */
  fuelRefused?: string
  cacheDir: string
  output: OutputMode
  /** --memo (store/results/memo.ts) */
  memo?: boolean
  /** --idempotency-key, checked as names are */
  idempotencyKey?: string
}

/** `burn run`'s arguments without oclif; undefined when oclif must answer (help, any parse error: its usage messages). */
export function parseRunArgv(argv: string[]): {ref: string; flags: RunFlags} | undefined {
  return parseSpecArgv(argv, {...runSpec, ...cacheDirSpec, ...remoteSpec}) as {ref: string; flags: RunFlags} | undefined
}

/** The request of `burn run <ref>` with these flags; throws the usage error of a bad limit. */
export function runRequest(ref: string, flags: RunFlags): RunRequest {
  // (the flag's spec allows only v8 and quickjs, in both parsers)
  const engine = flags.engine as EngineName | undefined
  return {
    ref,
    input: inputSource(flags),
    engine,
    limits: parseLimits(flags, engine),
    fuelRefused: fuelRefused(flags),
    cacheDir: flags['cache-dir'] ?? defaultCacheDir(),
    output: flags.json ? 'json' : flags.pretty ? 'pretty' : 'plain',
    ...memoFields(flags),
  }
}

/**
 * --remote and --remote-mode act exactly as BURN_REMOTE and BURN_REMOTE_MODE do, because they
 * become them, in this process's environment, before the call goes anywhere: the run daemon's
 * key (daemon/where.ts) holds every BURN_* variable, so a call with another remote reaches a
 * daemon of its own (and its own cooldown), and the run child, direct or the daemon's, reads
 * its remote from that environment. The URL, password included, is never put in the request
 * (a direct child's arguments, which `ps` shows to every user, or the daemon's request frame).
 */
export function applyRemoteFlags(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): void {
  if (flags.remote !== undefined) env.BURN_REMOTE = flags.remote
  if (flags['remote-mode'] !== undefined) env.BURN_REMOTE_MODE = flags['remote-mode']
}

function memoFields(flags: RunFlags): Pick<RunRequest, 'memo' | 'idempotencyKey'> {
  const key = flags['idempotency-key']
  if (key !== undefined && !isValidName(key)) {
    throw usageError(
      `invalid idempotency key ${JSON.stringify(key)}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, ` +
        "with no '..'",
    )
  }
  return {...(flags.memo ? {memo: true} : {}), ...(key !== undefined ? {idempotencyKey: key} : {})}
}

function inputSource(flags: RunFlags): InputSource {
  if (flags.input !== undefined) return {from: 'text', text: flags.input}
  const file = flags['input-file']
  if (file === '-') return {from: 'stdin'}
  return file === undefined ? {from: 'stdin-or-null'} : {from: 'file', path: file}
}

function fuelRefused(flags: RunFlags): string | undefined {
  if (flags.fuel === undefined || flags.engine !== undefined) return undefined
  try {
    parseLimits(flags, 'v8')
  } catch (error) {
    return (error as Error).message
  }
  return undefined
}

/** The flags cli/input.ts reads an input source from. */
export function inputFlags(input: InputSource): {input?: string; 'input-file'?: string} {
  if (input.from === 'text') return {input: input.text}
  if (input.from === 'file') return {'input-file': input.path}
  return input.from === 'stdin' ? {'input-file': '-'} : {}
}

/*
 * A direct run child's arguments: the request's JSON, then an --input text apart, as the user
 * gave it: JSON would escape its quotes, and Linux takes at most 128 KiB in one argument.
 */
export function toChildArgs(req: RunRequest): string[] {
  if (req.input.from !== 'text') return [JSON.stringify(req)]
  return [JSON.stringify({...req, input: {from: 'text'}}), req.input.text]
}

export function fromChildArgs(args: string[]): RunRequest {
  const req = JSON.parse(args[0]) as RunRequest
  if (req.input.from === 'text') req.input = {from: 'text', text: args[1] ?? ''}
  return req
}

const str = (v: unknown): v is string => typeof v === 'string'
const size = (v: unknown): v is number => typeof v === 'number' && v > 0 && Number.isFinite(v)

/** Whether a value that came over a socket (the run daemon's request frame) is a request in every field. */
export function isRunRequest(v: unknown): v is RunRequest {
  const r = v as Partial<RunRequest> | null
  if (typeof r !== 'object' || r === null || !str(r.ref) || !str(r.cacheDir)) return false
  if (r.engine !== undefined && r.engine !== 'v8' && r.engine !== 'quickjs') return false
  if (r.fuelRefused !== undefined && !str(r.fuelRefused)) return false
  if (r.output !== 'plain' && r.output !== 'pretty' && r.output !== 'json') return false
  if (
    (r.memo !== undefined && r.memo !== true) ||
    (r.idempotencyKey !== undefined && !(str(r.idempotencyKey) && isValidName(r.idempotencyKey)))
  )
    return false
  const l = r.limits as Partial<Limits> | undefined
  if (typeof l !== 'object' || l === null || ![l.timeoutMs, l.memoryBytes, l.maxOutputBytes, l.maxLogBytes].every(size)) return false
  if (l.fuel !== undefined && !size(l.fuel)) return false
  const i = r.input as Partial<{from: string; text: unknown; path: unknown}> | undefined
  if (typeof i !== 'object' || i === null) return false
  return (i.from === 'text' && str(i.text)) || (i.from === 'file' && str(i.path)) || i.from === 'stdin' || i.from === 'stdin-or-null'
}
