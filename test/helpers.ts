import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {after} from 'node:test'
import {fileURLToPath} from 'node:url'

// No test makes a TLS connection, and node parses NODE_EXTRA_CA_CERTS (a CA file some machines
// set for every process) at every start: ~40 ms of CPU for each of the thousands of processes the
// suite starts (foundation.test.js: 82.6 s with it, 68.6 s without). Every spawn below inherits this.
delete process.env.NODE_EXTRA_CA_CERTS

// Tests spawn the built binary (bin/run.js against dist/), as a user would.
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const BIN = join(ROOT, 'bin', 'run.js')

export interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface BurnOpts {
  cacheDir: string
  input?: string | Buffer
  env?: Record<string, string | undefined>
  cwd?: string
  timeoutMs?: number
  /** burn(): stdout and stderr on one pipe, as a shell's `2>&1` (the result is all in stdout). */
  merge?: boolean
  /** burnAsync(): these outputs' readers go away at once (`| head` that has read enough). */
  closeOutput?: Array<'stdout' | 'stderr'>
}

function env(opts: BurnOpts): NodeJS.ProcessEnv {
  // Run daemons of finished tests' cache dirs leave early (a test that needs another idle time sets its own).
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    BURN_CACHE_DIR: opts.cacheDir,
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    BURN_DAEMON_IDLE: '15s',
    // A test machine runs three test files at once and is loaded: a daemon is given a minute of
    // silence before its client runs the call directly (a test of that sets its own).
    BURN_DAEMON_SILENCE_MS: '60000',
    ...opts.env,
  }
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete e[k]
  return e
}

export function burn(args: string[], opts: BurnOpts): Result {
  const argv = opts.merge
    ? (['sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, BIN, ...args]] as const)
    : ([process.execPath, [BIN, ...args]] as const)
  const r = spawnSync(argv[0], argv[1], {
    env: env(opts),
    cwd: opts.cwd ?? ROOT,
    input: opts.input ?? '',
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 256 * 1024 * 1024,
  })
  return {code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr}
}

/** The same as burn(), as a real concurrent process. */
export function burnAsync(args: string[], opts: BurnOpts): Promise<Result> {
  return startBurn(args, opts).done
}

/**
 * Removes a directory tree that a process may still be writing into: a `burn run` starts its
 * cache dir's run daemon in the background, and that daemon can make `daemon/` inside the
 * tree while rmSync walks it (ENOTEMPTY). The walk is repeated until the tree is gone; a
 * daemon never makes a removed cache dir again (server.ts), so this ends.
 */
export function removeTree(dir: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(dir, {recursive: true, force: true})
      return
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (attempt >= 50 || (code !== 'ENOTEMPTY' && code !== 'EBUSY')) throw error
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
    }
  }
}

/** A fresh temporary directory, removed when the test (or suite, or file) that made it ends. */
export function tmp(prefix = 'burn-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  after(() => removeTree(dir))
  return dir
}

export function writeScript(dir: string, name: string, source: string | Buffer): string {
  mkdirSync(dir, {recursive: true})
  const p = join(dir, name)
  writeFileSync(p, source)
  return p
}

export function json(r: Result): any {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`)
  }
}

/** Registers one source and returns its hash. */
/** `r`, once it exited 0 (else the assertion names `what` and shows its output). */
export function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r
}

export function register(cacheDir: string, file: string, extra: string[] = []): string {
  // (a generous --timeout for the module body on a loaded machine, unless the test sets one)
  const timeout = extra.includes('--timeout') ? [] : ['--timeout', '60s']
  const r = burn(['register', file, '--json', ...timeout, ...extra], {cacheDir})
  if (r.code !== 0) throw new Error(`register failed (${r.code}): ${r.stdout}${r.stderr}`)
  return json(r).results[0].hash
}

export function stats(cacheDir: string): Record<string, number> {
  return json(burn(['stats', '--json'], {cacheDir})).counters
}

export interface Started {
  pid: number
  /** The Result once the process has ended and its output is all read. */
  done: Promise<Result>
  /** Sends SIGCONT: a process stopped at a BURN_FAULT `<point>:stop` goes on. */
  resume(): void
  /** What it has written so far. */
  soFar(): {stdout: string; stderr: string}
}

/** burnAsync() for tests that signal the process: its pid, its Result when it ends. */
export function startBurn(args: string[], opts: BurnOpts): Started {
  const child = spawn(process.execPath, [BIN, ...args], {env: env(opts), cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  // (a burn that ends before it read all its stdin is the test's to judge from its result, not an EPIPE that crashes the test file)
  child.stdin.on('error', () => {})
  child.stdin.end(opts.input ?? '')
  for (const s of opts.closeOutput ?? []) child[s].destroy()
  // 'close' comes after both the exit and the end of all output ('exit' then stdout 'close'
  // missed a stdout that had closed first, and the promise never settled).
  const done = new Promise<Result>((res) => child.on('close', (code, signal) => res({code, signal, stdout, stderr})))
  return {pid: child.pid!, done, resume: () => child.kill('SIGCONT'), soFar: () => ({stdout, stderr})}
}

/** A process's state letter from /proc (T: stopped), or 'gone'. */
export function procState(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0]
  } catch {
    return 'gone'
  }
}

/** Waits until `pid` is stopped (SIGSTOP at a BURN_FAULT `<point>:stop`); false if it ended or `ms` passed first. */
export async function waitStopped(pid: number, ms = 60_000): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    const state = procState(pid)
    if (state === 'T') return true
    if (state === 'gone' || state === 'Z' || Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The peak resident size (VmHWM) of a live process, from /proc; undefined once it has ended. */
export function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

function childPids(pid: number): number[] {
  const pids: number[] = []
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'latin1').trim().split(/\s+/)) if (c) pids.push(Number(c))
    }
  } catch {
    // the process ended while it was being read
  }
  return pids
}

/** The PIDs of the run daemons of `cacheDir`, from their lock files (daemon/<key>.lock). */
function daemonPids(cacheDir: string): number[] {
  const dir = join(cacheDir, 'daemon')
  const pids: number[] = []
  try {
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.lock')) continue
      const pid = Number(JSON.parse(readFileSync(join(dir, f), 'utf8')).pid)
      if (Number.isSafeInteger(pid) && pid > 0) pids.push(pid)
    }
  } catch {
    // no daemon, or one starting or leaving: its lock is read again at the next poll
  }
  return pids
}

export interface Peaked extends Result {
  /**
   * The largest peak resident size (VmHWM) seen of any process below burn or below the cache
   * dir's run daemons while the call lasted: the process that ran the script, whichever path
   * served it. /proc is polled every 2 ms; VmHWM keeps a process's peak, so a poll misses at most
   * what it grew in its last moments before it was killed.
   */
  peakRss: number
}

/** burnAsync(), measuring the peak memory of the process that ran the script (Linux /proc). */
export async function burnPeak(args: string[], opts: BurnOpts): Promise<Peaked> {
  const p = startBurn(args, opts)
  let peak = 0
  const visit = (pid: number) => {
    for (const c of childPids(pid)) {
      peak = Math.max(peak, peakRss(c) ?? 0)
      visit(c)
    }
  }
  const poll = setInterval(() => {
    visit(p.pid)
    for (const d of daemonPids(opts.cacheDir)) visit(d)
  }, 2)
  const r = await p.done
  clearInterval(poll)
  return {...r, peakRss: peak}
}
