// The run daemon: one per cache dir and environment (where.ts), started in the background by
// the first `burn run` that finds none, gone after BURN_DAEMON_IDLE (default 2m) without a
// call, or as soon as its store or socket disappears. It never runs a script itself: each call
// gets a runner process of its own (run/child.ts in pooled mode), started ahead of time and
// used once, and is supervised exactly as a direct `burn run` is (run/supervisor.ts), so a
// breach kills that runner and the call still ends with exit 6. What the daemon saves is the
// runner's start and, when the same script comes again, the load of its code cache and the run
// of its module body (engines/warm.ts: the rules that keep a call's outcome a direct run's).
import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, renameSync, rmdirSync, rmSync, statSync} from 'node:fs'
import {createServer, type Socket} from 'node:net'
import type {Limits} from '../../engines/protocol.js'
import {tiedNode} from '../../runners/parent-death.js'
import {acquireLock, Lock} from '../../store/lock.js'
import {daemonDirProblem} from '../../store/daemon-trust.js'
import {parseDuration} from '../../util/units.js'
import {faultPoint} from '../../util/faults.js'
import {formatError} from '../../cli/render.js'
import {Layout} from '../../store/layout.js'
import type {RunRequest} from '../request.js'
import {childClosed} from '../spawn.js'
import {superviseRun} from '../supervisor.js'
import {remoteCooldownMs} from '../../store/remote/config.js'
import {EVENTS_FD, RunEventReader} from '../events.js'
import {QUICKJS_HOST_SLACK_BYTES, Watchdog} from '../../runners/watchdog.js'
import {frame, FrameReader, frameParts, KEEPALIVE_MS, parseCall, type DaemonCall, type PooledHint, type RunnerNote} from './frames.js'
import {OutputRelay} from './relay.js'
import {RUN_CHILD} from '../bundles.js'

// (as the client gave them: `burn daemon` recognizes a daemon by its socket and lock arguments)
const [cacheDir, socketPath, lockPath] = process.argv.slice(2)
const layout = new Layout(cacheDir)
const IDLE_MS = idleMs(process.env.BURN_DAEMON_IDLE)
const WATCH_MS = 1000
// Calls remembered for the preload hint (bounded: oldest forgotten first).
const MAX_HINTS = 1000
/** A call's exit frame usually follows its script's end within a few ms (call(): fillNext). */
const FILL_AFTER_END_MS = 50

function idleMs(v: string | undefined): number {
  try {
    return v ? parseDuration(v, 'BURN_DAEMON_IDLE') : 120_000
  } catch {
    return 120_000
  }
}

/** A run child (child.ts) started in pooled mode, waiting for its one call (not a runners/ Runner, which takes many jobs). */
interface PooledChild {
  child: ChildProcess
  closed: Promise<[number | null, NodeJS.Signals | null]>
  /** Running the module body of `key` (expectKey) ahead; `over`: true once it finished cleanly. */
  warming?: {key: string; over: Promise<boolean>; detach: () => void}
}

/** What a call resolved to: the pooled runner's hint for a call expected to be like it. */
type Expect = Omit<PooledHint, 'cacheDir'>

/** A module body run ahead serves only a call of the same script under the same limits (engines/warm.ts). */
const expectKey = (e: Expect | undefined): string | undefined =>
  e?.limits && e.script ? JSON.stringify([e.script.engine, e.script.hash, e.limits]) : undefined

/** Bounded insertion-ordered map: the oldest entry goes first. */
function setBounded<V>(m: Map<string, V>, key: string, value: V): void {
  m.delete(key)
  m.set(key, value)
  if (m.size > MAX_HINTS) m.delete(m.keys().next().value!)
}

/** The pooled child ready for the next call, and what it should have loaded. */
class PooledChildren {
  private idle?: PooledChild
  private readonly expect = new Map<string, Expect>()
  /** The call that came after each call last time, and the last call: a one-step predictor. */
  private readonly next = new Map<string, string>()
  private last?: string
  /** Scripts and limits whose module body did not finish cleanly ahead: not run ahead again. */
  private readonly coldOnly = new Map<string, true>()

  /**
   * The started runner, or a new one: each runner does one call. A runner that ran a module body
   * ahead serves only a call of that script under those limits, once the body finished cleanly
   * (waited for: the call would wait for it anyway); any other call gets a runner that ran none.
   */
  async take(callKey: string): Promise<PooledChild> {
    if (this.last !== undefined) setBounded(this.next, this.last, callKey)
    this.last = callKey
    const alive = (p?: PooledChild) => p && p.child.exitCode === null && p.child.signalCode === null
    let ready = alive(this.idle) ? this.idle : undefined
    this.idle = undefined
    const want = this.expect.get(callKey)
    let discarded = false
    if (ready?.warming) {
      const same = ready.warming.key === expectKey(want)
      if (!same || !(await ready.warming.over) || !alive(ready)) {
        if (same) setBounded(this.coldOnly, ready.warming.key, true)
        ready.warming.detach()
        ready.child.kill('SIGKILL')
        ready = undefined
        discarded = true
      }
    }
    // (in place of a runner thrown away: one that loads the call as an unexpected one, as the
    // runner it replaces would have; only a quickjs sandbox is made, which holds no script)
    return ready ?? this.start(discarded ? {quickjs: want?.quickjs} : want, true)
  }

  /**
   * Starts the runner for the next call, prepared for the call that followed this one last
   * time (the same one again, the first time): a script run over and over, and scripts or
   * engines that alternate (A, B, A, B), both find their script loaded. A prediction whose
   * module body cannot run ahead gives way to this call's own script, whose body can.
   */
  fill(callKey?: string): void {
    if (this.idle || callKey === undefined) {
      this.idle ??= this.start()
      return
    }
    const predicted = this.expect.get(this.next.get(callKey) ?? callKey)
    const coldOnly = this.coldOnly.has(expectKey(predicted) ?? '')
    this.idle = this.start(coldOnly ? (this.expect.get(callKey) ?? predicted) : predicted)
  }

  /** What the call resolved to and its limits; `quickjs`: to make its sandbox ahead. */
  remember(callKey: string, script: PooledHint['script'], limits: Limits): void {
    const quickjs = script?.engine === 'quickjs' ? limits : undefined
    setBounded(this.expect, callKey, {script, quickjs, limits})
  }

  close(): void {
    // a runner whose stdin ends without a request exits on its own
    this.idle?.child.stdin?.end()
    this.idle = undefined
  }

  /** `now`: for a call that is here already, which waits for no module body run ahead. */
  private start(expect?: Expect, now = false): PooledChild {
    const key = expectKey(expect)
    const ahead = key !== undefined && !now && !this.coldOnly.has(key)
    const hint: PooledHint = {cacheDir, ...expect, limits: ahead ? expect!.limits : undefined}
    const node = tiedNode(process.execArgv)
    const args = [...node.execArgv, RUN_CHILD, '--pooled', JSON.stringify(hint)]
    const child = spawn(node.execPath, args, {stdio: ['pipe', 'pipe', 'pipe', 'pipe']})
    child.on('error', () => {})
    child.stdin!.on('error', () => {})
    const closed = childClosed(child)
    return {child, closed, warming: ahead ? watchBody(child, closed, key, expect!) : undefined}
  }
}

/**
 * Watches a runner's module body run ahead: its memory, as a call's watchdog would (a breach
 * kills the runner, and the call then gets a runner that runs the script cold and breaches on
 * its own), and its end. Until the call takes the runner (`detach`), these events are the daemon's.
 */
function watchBody(child: ChildProcess, closed: Promise<unknown>, key: string, expect: Expect): PooledChild['warming'] {
  const limits = expect.limits!
  // (a body past --timeout would time its call out: on v8 vm's deadline stops it in the runner,
  // on quickjs this one, which kills the runner; the call then gets one that runs the script cold)
  const dog = new Watchdog(child, {memoryBytes: limits.memoryBytes, timeoutMs: limits.timeoutMs})
  const slack = expect.script?.engine === 'quickjs' ? QUICKJS_HOST_SLACK_BYTES : 0
  const reader = new RunEventReader()
  let ended: (clean: boolean) => void = () => {}
  const over = new Promise<boolean>((resolve) => (ended = resolve))
  const onData = (d: Buffer) => {
    for (const e of reader.push(d)) {
      if (e.kind === 'body') dog.arm(slack, {bodyMs: 0, baselineBytes: e.baselineBytes})
      else if (e.kind === 'body-end') {
        dog.disarm()
        ended(e.clean)
      }
    }
  }
  const events = child.stdio[EVENTS_FD]!
  events.on('data', onData)
  void closed.then(() => {
    dog.disarm()
    ended(false)
  })
  const detach = () => {
    dog.disarm()
    events.removeListener('data', onData)
  }
  return {key, over, detach}
}

const pool = new PooledChildren()

/**
 * The shared remote cache failed for a call (a runner said so): each runner is a process of
 * its own, so the daemon remembers it, and the runners of the calls that come before `until`
 * do not ask the remote (each says so on stderr); the first call after asks it again.
 */
const COOLDOWN_MS = remoteCooldownMs(process.env)
let remoteDown: {why: string; until: number} | undefined

function runnerNote(): string {
  const leftMs = remoteDown === undefined ? 0 : remoteDown.until - Date.now()
  if (leftMs <= 0) remoteDown = undefined
  const note: RunnerNote = remoteDown === undefined ? {} : {remoteCooldown: {why: remoteDown.why, leftMs}}
  return JSON.stringify(note) + '\n'
}
let active = 0
let idleTimer: NodeJS.Timeout | undefined
let stopping = false

function touch(): void {
  clearTimeout(idleTimer)
  idleTimer = setTimeout(() => {
    if (active === 0) void stop()
  }, IDLE_MS)
}

/** `raw`: the request's JSON as it came, handed to the runner as is (a 40 MB stdin is not encoded again). */
async function serveCall(conn: Socket, req: DaemonCall, raw: Buffer): Promise<void> {
  active++
  try {
    await call(conn, req.run, raw)
  } finally {
    active--
  }
  touch()
}

async function call(conn: Socket, req: RunRequest, raw: Buffer): Promise<void> {
  /** false: the client is not keeping up (the socket's buffer is full). */
  const send = (type: 'o' | 'e' | 'x' | 'k', data: Buffer | string): boolean => {
    if (conn.destroyed) return true
    const [head, body] = frameParts(type, data)
    conn.write(head)
    return conn.write(body)
  }
  const callKey = callKeyOf(req)
  // A call can be silent for its whole --timeout and more (a runner's start, a loaded machine):
  // keepalive frames tell the client this daemon still works on it (client.ts SILENCE_MS). None
  // while output waits for a slow client: that client has frames to read.
  const beat = setInterval(() => conn.writableLength === 0 && send('k', ''), KEEPALIVE_MS)
  // (listened for before the wait for a runner: a client gone meanwhile gets no runner started for it)
  let gone = false
  let onGone = () => void (gone = true)
  conn.on('close', () => onGone())
  const {child, closed, warming} = await pool.take(callKey)
  // (from here on the runner's events are the call's: taken in this same turn, none is lost)
  warming?.detach()
  let cancelled = false
  onGone = () => {
    if (child.exitCode === null && child.signalCode === null) {
      cancelled = true
      child.kill('SIGKILL')
    }
  }
  if (gone || conn.destroyed) onGone()
  // The next runner starts once this call's exit code is on its way: starting a process blocks
  // this event loop for several ms (the fork), which the call would otherwise wait for. A call
  // whose output is still relayed FILL_AFTER_END_MS after its script ended (a slow client) gets
  // it started then, so calls that come meanwhile find it ready. Never while a script runs under
  // its --timeout: it would take CPU from it.
  let filled = false
  const fillNext = () => {
    if (!filled && !stopping) pool.fill(callKey)
    filled = true
  }
  const relay = new OutputRelay(child, send, conn)
  child.stdin!.write(runnerNote())
  child.stdin!.end(raw)
  const code = await superviseRun(child, req, {
    closed,
    cancelled: () => cancelled,
    render: (error, json) => {
      const r = formatError(error, json)
      if (r.stdout) send('o', r.stdout)
      if (r.stderr) send('e', r.stderr)
      return r.exit
    },
    // The engine the runner resolved (the script's registered one), not the flag: a call without
    // --engine on a quickjs script is predicted, and its sandbox made, as quickjs. The prediction
    // only warms a runner up: each call's runner decides its engine from the store (trust.ts).
    onRemoteFailed: (why) => (remoteDown = {why, until: Date.now() + COOLDOWN_MS}),
    onScript: (engine, hash) => pool.remember(callKey, {engine, hash}, req.limits),
    stdoutOrder: (stdoutAt, stderrBytes) => relay.order(stdoutAt, stderrBytes),
    onEnded: () => setTimeout(fillNext, FILL_AFTER_END_MS),
  })
  await relay.sent()
  clearInterval(beat)
  send('x', String(code))
  conn.end()
  setImmediate(fillNext)
}

/** A call is its script and how it runs; not its input, which changes from call to call. */
const callKeyOf = (req: RunRequest): string => JSON.stringify([req.ref, req.engine, req.limits, req.fuelRefused, req.output, req.cacheDir])

/**
 * A connection carries one frame: a call (R) or a stop (S, from `burn daemon stop`, answered
 * with this daemon's lock token: proof that the daemon it reached is the lock's owner). Any
 * other frame, a malformed request, a frame over MAX_FRAME or bytes after the first frame
 * close the connection, and nothing is counted.
 */
function serve(conn: Socket): void {
  touch()
  const reader = new FrameReader()
  let taken = false
  conn.on('error', () => {})
  conn.on('data', (chunk: Buffer) => {
    let frames
    try {
      frames = reader.push(chunk)
    } catch {
      conn.destroy()
      return
    }
    for (const f of frames) {
      const req = !taken && f.type === 'R' ? parseCall(f.payload) : undefined
      if (!taken && f.type === 'S' && lock) {
        conn.end(frame('s', lock.token))
        void stop()
      } else if (req) {
        serveCall(conn, req, f.payload).catch(() => conn.destroy())
      } else {
        conn.destroy()
        return
      }
      taken = true
    }
  })
}

let lock: Lock | undefined
const server = createServer(serve)
let socketIno: number | undefined

async function stop(): Promise<void> {
  if (stopping) return
  stopping = true
  server.close()
  pool.close()
  // A newer daemon may own the path by now; only our own socket is removed.
  try {
    if (statSync(socketPath).ino === socketIno) rmSync(socketPath, {force: true})
  } catch {
    // already gone
  }
  const wait = setInterval(async () => {
    if (active > 0) return
    clearInterval(wait)
    await lock?.release().catch(() => {})
    process.exit(0)
  }, 50)
}

const storeThere = () => existsSync(layout.storeJson)

/** Leave when the store or our socket is gone, or the lock is no longer ours. */
function watch(): void {
  setInterval(async () => {
    let ok = storeThere()
    try {
      ok &&= statSync(socketPath).ino === socketIno
    } catch {
      ok = false
    }
    if (ok && lock) ok = await lock.stillOwned().catch(() => false)
    if (!ok) void stop()
  }, WATCH_MS)
}

async function main(): Promise<void> {
  // The store may be removed while this daemon starts (a test's temporary cache, `rm -rf` of
  // the cache dir): only the daemon dir is made (ENOENT when the cache dir is gone), never the
  // cache dir again, or this process would leave a stray directory behind.
  try {
    mkdirSync(layout.daemonDir, {mode: 0o700})
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return
  }
  // Only a directory of this user's that nobody else can write to holds the socket (a client
  // checks the same before it connects).
  if (daemonDirProblem(layout.daemonDir)) return
  const got = await acquireLock(lockPath, {waitMs: 0, makeDir: false})
  if (!(got instanceof Lock)) return
  lock = got
  // Checked again under the lock: an `rm -rf` of the cache dir that had removed store.json but
  // not yet the daemon dir; what this process made goes with it.
  if (!storeThere()) {
    await lock.release().catch(() => {})
    try {
      rmdirSync(layout.daemonDir)
    } catch {
      // not empty (another daemon's files) or gone already
    }
    return
  }
  // We hold the lock, so a socket file left here belongs to a daemon that died.
  rmSync(socketPath, {force: true})
  // listen() binds (the file appears) and then listens: a client that connected in between was
  // refused, and under BURN_DAEMON=require failed (seen on a loaded machine). So the socket is
  // bound under another name and renamed into place once it accepts. That name ends in .sock
  // with no lock of its own: a daemon killed before the rename leaves what gc and `burn daemon
  // stop` remove as the socket of a daemon that is gone. (One byte longer: where.ts leaves room
  // for it.) libuv unlinks the bound name when the server closes (stop()), which is now that
  // name, not the one a newer daemon may own by then.
  const bound = socketPath.replace(/\.sock$/, '~.sock')
  rmSync(bound, {force: true})
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // The socket is made (bound) inside listen(): private from its first instant.
    const umask = process.umask(0o177)
    try {
      server.listen(bound, resolve)
    } finally {
      process.umask(umask)
    }
  })
  faultPoint('daemon:listening')
  chmodSync(bound, 0o600)
  renameSync(bound, socketPath)
  socketIno = statSync(socketPath).ino
  pool.fill()
  touch()
  watch()
}

process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())

main().catch(async () => {
  await lock?.release().catch(() => {})
  process.exit(1)
})
