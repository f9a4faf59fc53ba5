import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {FAULT_POINTS} from '../../src/util/faults.js'
import {BIN, removeTree} from '../helpers.js'
import {GC_PLANTS, plant, REPAIR_PLANTS} from './plant.js'
import {kill9, killStoreProcs, StoreProcs, type StoreProc} from './procs.js'
import {counterOracle, type OpCount, type OracleReport} from './oracle.js'

/*
 * The crash-and-concurrency torture test (zccache's rule: a lookup returns the correct content
 * or a miss, never another key's content, never partial content). Several workers run random
 * register / run / batch / forget / gc / verify --fix / stats operations on one store, with the
 * run daemon on. A share of them run with a fault point armed (faults.ts FAULT_POINTS): the
 * process dies there (`<point>`) or stops there (`<point>:stop`) and the harness, which watches
 * /proc, SIGKILLs it while it is stopped, so the kill lands inside the store work the point
 * names, in whichever process reached it (a client, a direct run's child, a run daemon's
 * runner, a run daemon). Others are killed at random moments, and run daemons too. Every
 * script's output encodes its own identity and its input, so a wrong hit is visible; the
 * counters are compared with the operations that finished (oracle.ts); at the end the store
 * must verify clean with no debris left.
 */
export interface TortureOptions {
  seconds: number
  workers: number
  scripts: number
  /** Share of operations SIGKILLed at a random moment. */
  killRate: number
  seed: number
  log?: (line: string) => void
  /** Operations to mix (default: all). */
  ops?: string[]
  /** Share of operations run with a fault point armed (default 0.35; gc, forget and verify --fix: twice that). */
  faultRate?: number
  /** Share of operations after which one run daemon of the store is SIGKILLed (default 0.03). */
  daemonKillRate?: number
}

/** The seed when none is given: a run is reproduced by passing the seed it printed. */
export const DEFAULT_SEED = 15_2

/** Who was at work where a kill landed: the command's writer, a run daemon's runner, a run daemon, the stats fold. */
export const WRITERS = ['register', 'run', 'run (daemon)', 'batch', 'forget', 'gc', 'repair', 'fold', 'daemon', 'other'] as const
export type Writer = (typeof WRITERS)[number]

export interface TortureReport {
  seed: number
  operations: number
  byOp: Record<string, number>
  /** Operations run with a fault point armed. */
  armed: number
  /** Kills at a fault point: stopped there and SIGKILLed by the harness, or killed by the point itself. */
  insideKills: Record<Writer, number>
  insidePoints: Record<string, number>
  stopKills: number
  selfKills: number
  /** Clients SIGKILLed at a random moment; run daemons SIGKILLed at a random moment. */
  randomKills: number
  daemonKills: number
  /** `burn run` calls answered by a run daemon (no direct run in the client), those of them with exit 0, and the rest. */
  daemonServed: number
  daemonServedOk: number
  directRuns: number
  /** Calls that reached a daemon's socket and then ran directly (a fallback, or a socket that refused). */
  fallbacks: number
  /** gc or verify --fix that found the maintenance lock busy (exit 8). */
  busy: number
  wrongResults: number
  unexpectedExits: number
  problems: string[]
  oracle: OracleReport
  /** Damage `verify` found after the run that the harness did not plant: damage burn made. */
  unplannedDamage: number
  finalVerifyExit: number | null
  finalGcExit: number | null
  /** Files left in tmp/, pending/, damaged/ and daemon/ after the final gc. */
  debris: string[]
  finalRunsCorrect: number
  finalRunsTotal: number
}

/** mulberry32: the same seed, the same operations (timing still varies). */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Script i: its output names the script and echoes the input, plus a value only it computes.
const scriptSource = (i: number) => `// torture script ${i}
const ID = ${JSON.stringify(`script-${i}`)}
module.exports = (input) => Array.isArray(input)
  ? input.map((r) => ({id: ID, r, v: r * ${i + 3} + ${i}}))
  : {id: ID, input, v: input * ${i + 3} + ${i}}
`
const expectRun = (i: number, input: number) => JSON.stringify({id: `script-${i}`, input, v: input * (i + 3) + i})
const expectRow = (i: number, r: number) => JSON.stringify({id: `script-${i}`, r, v: r * (i + 3) + i})

const HUNG_MS = 180_000

// Limits far above what the scripts need: a loaded machine must not turn a run into a timeout.
const LIMITS = ['--timeout', '120s']

const points = (...prefixes: string[]) => FAULT_POINTS.filter((p) => prefixes.some((x) => p.startsWith(x)))

/**
 * The writers a run must kill inside, and the operation that reaches each. Each gets at least
 * TARGET_KILLS kills early, at points of its own that differ (arm: least hit first).
 */
const TARGET_KILLS = 2

const TARGETS: Array<[Writer, string]> = [
  ['register', 'register'],
  ['run (daemon)', 'run'],
  ['gc', 'gc'],
  ['fold', 'gc'],
  ['forget', 'forget'],
  ['repair', 'verify --fix'],
]

/** The fault points each operation can reach. */
const MENUS: Record<string, readonly string[]> = {
  register: points('lock:', 'register:', 'object:', 'engines:', 'compiled:', 'name:', 'stats:'),
  // (few, and stop only: each armed value is a run daemon of its own, run/daemon/where.ts)
  run: points('run:', 'stats:'),
  batch: points('stats:', 'compiled:', 'lock:'),
  forget: points('forget:', 'lock:'),
  gc: points('gc:', 'fold:', 'stats-totals:', 'removal:', 'forget:', 'lock:'),
  'verify --fix': points('repair:', 'removal:', 'engines:', 'lock:'),
  stats: points('fold:', 'stats-totals:'),
}

/** Where a kill at `point`, during `op`, in a process of `kind`, landed. */
export function writerOf(point: string | undefined, op: string | undefined, kind: StoreProc['kind']): Writer {
  if (point?.startsWith('fold:') || point?.startsWith('stats-totals:')) return 'fold'
  if (kind === 'pooled') return 'run (daemon)'
  if (kind === 'daemon') return 'daemon'
  const byOp: Record<string, Writer> = {
    register: 'register',
    run: 'run',
    batch: 'batch',
    forget: 'forget',
    gc: 'gc',
    'verify --fix': 'repair',
    stats: 'fold',
  }
  return (op && byOp[op]) || 'other'
}

// Loaded into every node process of the run (NODE_OPTIONS): in a `burn run` client it records
// whether the call reached a daemon's socket (a pipe connect) and whether it ran a process
// itself (the direct run's child, or a daemon it started). A call with a connect and no
// process of its own was served by the daemon. Written at exit, so a killed client says nothing.
const PROBE = `'use strict'
if (process.argv[2] === 'run' && /run\\.js$/.test(process.argv[1] || '') && process.env.TORTURE_PROBE_DIR) {
  const seen = {connects: 0, spawns: 0}
  require('node:async_hooks').createHook({init(id, type) {
    if (type === 'PIPECONNECTWRAP') seen.connects++
    else if (type === 'PROCESSWRAP') seen.spawns++
  }}).enable()
  process.on('exit', () => {
    try { require('node:fs').writeFileSync(process.env.TORTURE_PROBE_DIR + '/' + process.pid, JSON.stringify(seen)) } catch {}
  })
}
`

interface Proc {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  pid: number
  killedByUs: boolean
  /** What the probe saw (a `burn run` that was not killed). */
  probe?: {connects: number; spawns: number}
}

/** One operation in flight: what it armed, and the kills that landed in its processes. */
interface OpRun {
  op: string
  fault?: string
  point?: string
  daemonKillsAtStart: number
  hits: Writer[]
}

export async function torture(opts: TortureOptions): Promise<TortureReport> {
  const random = rng(opts.seed)
  const pickIndex = (n: number) => Math.floor(random() * n)
  const root = mkdtempSync(join(tmpdir(), 'burn-torture-'))
  const cache = join(root, 'cache')
  const src = join(root, 'src')
  const probeDir = join(root, 'probe')
  mkdirSync(src)
  mkdirSync(probeDir)
  writeFileSync(join(root, 'probe.cjs'), PROBE)
  const files: string[] = []
  const hashes: string[] = []
  for (let i = 0; i < opts.scripts; i++) {
    const s = scriptSource(i)
    files.push(join(src, `s${i}.js`))
    writeFileSync(files[i], s)
    hashes.push(createHash('sha256').update(s).digest('hex'))
  }
  const rep: TortureReport = {
    seed: opts.seed,
    operations: 0,
    byOp: {},
    armed: 0,
    insideKills: Object.fromEntries(WRITERS.map((w) => [w, 0])) as Record<Writer, number>,
    insidePoints: {},
    stopKills: 0,
    selfKills: 0,
    randomKills: 0,
    daemonKills: 0,
    daemonServed: 0,
    daemonServedOk: 0,
    directRuns: 0,
    fallbacks: 0,
    busy: 0,
    wrongResults: 0,
    unexpectedExits: 0,
    problems: [],
    oracle: {held: false, counters: {}},
    unplannedDamage: 0,
    finalVerifyExit: null,
    finalGcExit: null,
    debris: [],
    finalRunsCorrect: 0,
    finalRunsTotal: 0,
  }
  const problem = (kind: 'wrong' | 'exit', msg: string) => {
    if (kind === 'wrong') rep.wrongResults++
    else rep.unexpectedExits++
    if (rep.problems.length < 50) rep.problems.push(msg)
    opts.log?.(`PROBLEM ${msg}`)
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BURN_CACHE_DIR: cache,
    BURN_LOCK_STALE_MS: '3000',
    BURN_LOCK_WAIT_MS: '20000',
    BURN_DAEMON_IDLE: '20s',
    NODE_OPTIONS: [process.env.NODE_OPTIONS, `--require=${join(root, 'probe.cjs')}`].filter(Boolean).join(' '),
    TORTURE_PROBE_DIR: probeDir,
  }
  // The daemon path is on: only BURN_DAEMON=off turns it off, and this run needs it.
  delete env.BURN_DAEMON
  delete env.BURN_FAULT
  const counts: OpCount[] = []
  const planted = new Set<string>()
  const hitsAt = new Map<string, number>()
  const runArmed = new Set<string>()
  /** Operations chosen to reach a writer no kill has reached yet (chooseOp), and that writer. */
  const target = new Map<string, Writer>()
  const missesAt = new Map<string, number>()

  // Fault values in flight, each armed by one operation at a time: a stopped process's
  // BURN_FAULT names the operation it works for.
  const inflight = new Map<string, OpRun>()
  const killed = new Set<number>()
  const recordInside = (run: OpRun | undefined, point: string | undefined, writer: Writer) => {
    rep.insideKills[writer]++
    if (point) {
      rep.insidePoints[point] = (rep.insidePoints[point] ?? 0) + 1
      hitsAt.set(point, (hitsAt.get(point) ?? 0) + 1)
    }
    run?.hits.push(writer)
  }
  const procs = new StoreProcs(cache)
  const sweep = () => {
    for (const p of procs.list('T')) {
      if (killed.has(p.pid) || !kill9(p.pid)) continue
      killed.add(p.pid)
      const point = p.fault?.endsWith(':stop') ? p.fault.slice(0, -':stop'.length) : undefined
      const run = p.fault === undefined ? undefined : inflight.get(p.fault)
      rep.stopKills++
      recordInside(run, point, writerOf(point, run?.op, p.kind))
    }
  }
  // Every 25 ms while a fault is armed (a stop there is killed at once), else every 250 ms (a
  // run daemon, started by an armed call, may stop at its own lock later).
  let quiet = 0
  const watcher = setInterval(() => {
    if (inflight.size > 0 || ++quiet % 10 === 0) sweep()
  }, 25)

  const killADaemon = () => {
    const daemons = procs.list().filter((p) => p.kind === 'daemon' && p.state !== 'Z' && p.state !== 'T')
    if (daemons.length === 0) return
    if (kill9(daemons[pickIndex(daemons.length)].pid)) rep.daemonKills++
  }

  const exec = (args: string[], o: {run?: OpRun; input?: string; kill?: boolean; env?: NodeJS.ProcessEnv} = {}): Promise<Proc> =>
    new Promise((resolve) => {
      const fault = o.run?.fault
      if (fault) inflight.set(fault, o.run!)
      const child = spawn(process.execPath, [BIN, ...args], {env: {...env, ...o.env, ...(fault ? {BURN_FAULT: fault} : {})}, stdio: 'pipe'})
      const p: Proc = {code: null, signal: null, stdout: '', stderr: '', pid: child.pid ?? -1, killedByUs: false}
      child.stdout.setEncoding('utf8').on('data', (d: string) => (p.stdout += d))
      child.stderr.setEncoding('utf8').on('data', (d: string) => (p.stderr += d))
      child.stdin.on('error', () => {})
      child.stdin.end(o.input ?? '')
      if (o.kill) {
        setTimeout(
          () => {
            if (child.exitCode === null && child.signalCode === null) {
              p.killedByUs = true
              child.kill('SIGKILL')
            }
          },
          Math.floor(random() * 400),
        )
      }
      // A call that never ends (a stop nobody killed, a lock never given up) is a finding, not a hang of the harness.
      const hung = setTimeout(() => {
        problem('exit', `hung for ${HUNG_MS / 1000}s, killed: burn ${args.join(' ')} (BURN_FAULT=${fault ?? ''})`)
        p.killedByUs = true
        child.kill('SIGKILL')
      }, HUNG_MS)
      child.on('close', (code, signal) => {
        clearTimeout(hung)
        if (fault) {
          // a process of this operation may still be stopped (a daemon's runner): kill it as its
          // own, before the value can be armed again
          sweep()
          inflight.delete(fault)
        }
        const probeFile = join(probeDir, String(p.pid))
        try {
          p.probe = JSON.parse(readFileSync(probeFile, 'utf8')) as Proc['probe']
          rmSync(probeFile, {force: true})
        } catch {
          // not a run, or killed
        }
        resolve({...p, code, signal})
      })
    })

  /**
   * The operation's fault, if it gets one: among the points it can reach, those of the writer
   * killed least so far, and among them the points hit (or armed in vain) least, so every
   * writer and point gets its turn; `:stop` (the harness kills) or a kill by the point itself.
   */
  const arm = (op: string): OpRun => {
    const run: OpRun = {op, daemonKillsAtStart: rep.daemonKills, hits: []}
    const menu = MENUS[op] ?? []
    const targeted = target.get(op)
    target.delete(op)
    // (runs less often than the rest: exact counts of runs that ran once need unarmed ones)
    const scale = op === 'gc' || op === 'forget' || op === 'verify --fix' ? 2 : op === 'run' ? 0.5 : 1
    const rate = targeted ? 1 : (opts.faultRate ?? 0.35) * scale
    if (menu.length === 0 || random() >= rate) return run
    const writers = [...new Set(menu.map((pt) => writerOf(pt, op, 'other')))]
    const least = Math.min(...writers.map((w) => rep.insideKills[w]))
    const behind = writers.filter((w) => rep.insideKills[w] === least)
    const writer = targeted && writers.includes(targeted) ? targeted : behind[pickIndex(behind.length)]
    const score = (pt: string) => (hitsAt.get(pt) ?? 0) + (missesAt.get(pt) ?? 0)
    const group = menu.filter((pt) => writerOf(pt, op, 'other') === writer)
    const low = Math.min(...group.map(score))
    // A run goes back to a point armed before most of the time: its daemon is up by then.
    const again = op === 'run' ? group.filter((pt) => runArmed.has(pt)) : []
    const choices = again.length && random() < 0.8 ? again : group.filter((pt) => score(pt) === low)
    const point = choices[pickIndex(choices.length)]
    if (op === 'run') runArmed.add(point)
    const fault = op === 'run' || random() < 0.5 ? `${point}:stop` : point
    if (inflight.has(fault)) return run
    rep.armed++
    return {...run, fault, point}
  }

  /** After an operation: was it killed, and where; false when the caller should not look at its output. */
  const settle = (run: OpRun, p: Proc): boolean => {
    if (run.point && run.hits.length === 0 && !(p.signal === 'SIGKILL' && !p.killedByUs))
      missesAt.set(run.point, (missesAt.get(run.point) ?? 0) + 1)
    if (p.signal !== 'SIGKILL') return true
    if (p.killedByUs) rep.randomKills++
    else if (run.hits.length === 0 && run.fault && !run.fault.endsWith(':stop')) {
      rep.selfKills++
      recordInside(run, run.point, writerOf(run.point, run.op, 'other'))
    }
    return false
  }

  const touchedByKill = (run: OpRun) => run.hits.length > 0 || run.daemonKillsAtStart !== rep.daemonKills

  const ops: Record<string, () => Promise<void>> = {
    register: async () => {
      const i = pickIndex(opts.scripts)
      const run = arm('register')
      const named = random() < 0.3
      const p = await exec(['register', files[i], '--json', ...(named ? ['--name', `n${i}`] : [])], {run, kill: random() < opts.killRate})
      const ok = settle(run, p)
      counts.push({counter: 'register', ok: ok && p.code === 0, bounded: !ok || p.code !== 0 || Boolean(run.fault)})
      if (!ok) return
      if (p.code !== 0) return problem('exit', `register s${i} exit ${p.code}: ${p.stderr.slice(0, 300)}`)
      const got = JSON.parse(p.stdout).results[0].hash
      if (got !== hashes[i]) problem('wrong', `register s${i} gave hash ${got}`)
    },
    run: async () => {
      const i = pickIndex(opts.scripts)
      const input = pickIndex(1000)
      const ref = random() < 0.5 ? hashes[i] : hashes[i].slice(0, 10)
      const run = arm('run')
      const p = await exec(['run', ref, '--input', String(input), ...LIMITS], {run, kill: random() < opts.killRate})
      const ok = settle(run, p)
      if (process.env.TORTURE_DEBUG)
        opts.log?.(`run ${p.code} ${p.signal} ${JSON.stringify(p.probe)} ${run.fault} ${run.hits} ${p.stderr.slice(0, 99)}`)
      const served = p.probe !== undefined && p.probe.connects > 0 && p.probe.spawns === 0
      const fellBack = p.probe === undefined || (p.probe.connects > 0 && p.probe.spawns > 0)
      if (p.probe) {
        if (served) rep.daemonServed++
        else rep.directRuns++
        if (served && p.code === 0) rep.daemonServedOk++
        if (p.probe.connects > 0 && p.probe.spawns > 0) rep.fallbacks++
      }
      // a run that was killed, or that ran twice (the daemon's runner, then directly), may have counted up to twice
      counts.push({counter: 'runs.ok', ok: ok && p.code === 0, bounded: !ok || p.code !== 0 || fellBack, twice: fellBack})
      if (!ok) return
      // not registered (forgotten, evicted): a clean miss; registered again, so runs keep finding scripts
      if (p.code === 3) return reRegister(i)
      // (a runner SIGKILLed from outside is reported as the system's OOM killer: exit 6)
      const why = /the run process was killed by SIGKILL|killed by the system \(out of memory\)|run daemon/
      const killedInside = (p.code === 1 || p.code === 6) && why.test(p.stderr) && touchedByKill(run)
      if (killedInside) return
      if (p.code !== 0) return problem('exit', `run s${i} exit ${p.code}: ${p.stderr.slice(0, 300)}`)
      if (p.stdout !== expectRun(i, input) + '\n') problem('wrong', `run s${i} input ${input} gave ${p.stdout.slice(0, 200)}`)
    },
    batch: async () => {
      const i = pickIndex(opts.scripts)
      const n = 1 + pickIndex(300)
      const rows = Array.from({length: n}, (_, k) => k + pickIndex(100))
      const run = arm('batch')
      const args = ['batch', hashes[i], '--chunk-size', String(1 + pickIndex(50)), '--concurrency', '2', ...LIMITS]
      const p = await exec(args, {run, input: rows.map(String).join('\n') + '\n', kill: random() < opts.killRate})
      const ok = settle(run, p)
      counts.push({counter: 'batch.runs', ok: ok && p.code === 0, bounded: !ok || p.code !== 0 || Boolean(run.fault)})
      if (!ok || p.code === 3) return
      if (p.code !== 0) return problem('exit', `batch s${i} exit ${p.code}: ${p.stderr.slice(0, 300)}`)
      const want = rows.map((r) => expectRow(i, r)).join('\n') + '\n'
      if (p.stdout !== want) problem('wrong', `batch s${i} gave ${p.stdout.slice(0, 200)}`)
    },
    forget: async () => {
      const i = pickIndex(opts.scripts)
      const run = arm('forget')
      const p = await exec(['forget', hashes[i]], {run, kill: random() < opts.killRate})
      if (settle(run, p) && p.code !== 0) problem('exit', `forget s${i} exit ${p.code}: ${p.stderr.slice(0, 300)}`)
    },
    gc: async () => {
      if (random() < 0.7) for (let k = 1 + pickIndex(3); k > 0; k--) plantOne(GC_PLANTS)
      const run = arm('gc')
      // (eviction now and then: each one makes later runs of the script a clean miss until it is registered again)
      const evict = random() < 0.15 ? ['--max-size', '2KB'] : []
      const p = await exec(['gc', '--json', ...evict], {run, kill: random() < opts.killRate})
      if (!settle(run, p)) return
      if (p.code === 8 && /another `burn gc` or `burn verify --fix` is at work/.test(p.stderr)) return void rep.busy++
      if (p.code !== 0) problem('exit', `gc exit ${p.code}: ${p.stderr.slice(0, 300)}`)
    },
    'verify --fix': async () => {
      for (let k = 1 + pickIndex(3); k > 0; k--) plantOne(REPAIR_PLANTS)
      const run = arm('verify --fix')
      const p = await exec(['verify', '--fix', '--json'], {run, kill: random() < opts.killRate})
      if (!settle(run, p)) return
      // 8: damage left (a lock in use, damage planted after the walk), or the maintenance lock busy
      if (p.code === 8) return void rep.busy++
      if (p.code !== 0) problem('exit', `verify --fix exit ${p.code}: ${p.stderr.slice(0, 300)}`)
    },
    stats: async () => {
      const before = counterOracle(counts, {})
      const run = arm('stats')
      const p = await exec(['stats', '--json'], {run, kill: random() < opts.killRate})
      if (!settle(run, p)) return
      if (p.code !== 0) return problem('exit', `stats exit ${p.code}: ${p.stderr.slice(0, 300)}`)
      // Every operation that had finished and counted for sure must be in the counters already.
      const now = counterOracle(counts.slice(0, before.ops), JSON.parse(p.stdout).counters as Record<string, number>)
      for (const [id, c] of Object.entries(now.counters))
        if (c.actual < c.lo) problem('wrong', `stats mid-run: ${id} is ${c.actual}, below the ${c.lo} operations that counted`)
    },
  }
  const reRegister = async (i: number) => {
    const p = await exec(['register', files[i], '--json'])
    counts.push({counter: 'register', ok: p.code === 0, bounded: p.code !== 0})
    if (p.code !== 0) problem('exit', `register s${i} again exit ${p.code}: ${p.stderr.slice(0, 300)}`)
  }
  const plantOne = (kinds: readonly (typeof GC_PLANTS)[number][]) => {
    try {
      for (const r of plant(cache, kinds[pickIndex(kinds.length)], pickIndex)) planted.add(r)
    } catch {
      // the store changed under the planting (a directory removed meanwhile): nothing planted
    }
  }
  const weights = (
    [
      ['register', 5],
      ['run', 8],
      ['batch', 1],
      ['forget', 1],
      ['gc', 2],
      ['verify --fix', 1],
      ['stats', 1],
    ] as Array<[string, number]>
  ).filter(([op]) => !opts.ops || opts.ops.includes(op))
  const total = weights.reduce((a, [, w]) => a + w, 0)
  const chooseOp = () => {
    // Half the time, an operation for a writer that fewer than TARGET_KILLS kills reached yet, armed for sure.
    const lacking = TARGETS.filter(([w, op]) => rep.insideKills[w] < TARGET_KILLS && weights.some(([o]) => o === op))
    if (lacking.length && random() < 0.6) {
      // (a kill in a daemon's runner needs two armed runs: the first one starts that daemon)
      const first = lacking.find(([w]) => w === 'run (daemon)')
      const [w, op] = first && random() < 0.5 ? first : lacking[pickIndex(lacking.length)]
      target.set(op, w === 'run (daemon)' ? 'run' : w)
      return op
    }
    let x = random() * total
    for (const [name, w] of weights) if ((x -= w) < 0) return name
    return 'run'
  }

  try {
    // Warm the store once so early runs have something to hit.
    const warm = await exec(['register', ...files])
    if (warm.code !== 0) throw new Error(`warm-up register failed (${warm.code}): ${warm.stderr}`)
    counts.push(...files.map(() => ({counter: 'register' as const, ok: true, bounded: false})))
    const deadline = Date.now() + opts.seconds * 1000
    // Past the deadline, a short run on a loaded machine goes on (a minute at most) until every
    // writer it can reach was killed inside at least once.
    const unreached = () => TARGETS.some(([w, op]) => rep.insideKills[w] === 0 && weights.some(([o]) => o === op))
    const going = () => Date.now() < deadline || (unreached() && Date.now() < deadline + 60_000)
    await Promise.all(
      Array.from({length: opts.workers}, async () => {
        while (going()) {
          const op = chooseOp()
          const t0 = Date.now()
          await ops[op]()
          opts.log?.(`${op} ${Date.now() - t0} ms`)
          rep.operations++
          rep.byOp[op] = (rep.byOp[op] ?? 0) + 1
          if (random() < (opts.daemonKillRate ?? 0.03)) killADaemon()
        }
      }),
    )
    await finalChecks()
  } finally {
    clearInterval(watcher)
    killStoreProcs(cache)
    removeTree(root)
  }
  return rep

  /** The end state: burn's own damage none, everything repairable, then a clean store, right answers, exact counters. */
  async function finalChecks(): Promise<void> {
    killStoreProcs(cache)
    const before = await exec(['verify', '--json'])
    try {
      for (const pr of JSON.parse(before.stdout).problems as Array<{severity: string; path: string; kind: string; detail: string}>) {
        if (pr.severity !== 'damage' || planted.has(pr.path)) continue
        rep.unplannedDamage++
        rep.problems.push(`damage after the run: ${pr.kind} ${pr.path}: ${pr.detail}`)
      }
    } catch {
      rep.problems.push(`final verify: not JSON (exit ${before.code}): ${before.stderr.slice(0, 300)}`)
      rep.unplannedDamage++
    }
    const fix = await exec(['verify', '--fix', '--json'])
    if (fix.code !== 0) rep.problems.push(`final verify --fix exit ${fix.code}: ${fix.stdout.slice(0, 500)}`)
    const reg = await exec(['register', ...files, '--json'])
    if (reg.code !== 0) rep.problems.push(`final register exit ${reg.code}: ${reg.stderr.slice(0, 300)}`)
    counts.push(...files.map(() => ({counter: 'register' as const, ok: reg.code === 0, bounded: reg.code !== 0})))
    for (let i = 0; i < opts.scripts; i++) {
      rep.finalRunsTotal++
      const p = await exec(['run', hashes[i], '--input', String(i), ...LIMITS])
      const fellBack = p.probe === undefined || (p.probe.connects > 0 && p.probe.spawns > 0)
      counts.push({counter: 'runs.ok', ok: p.code === 0, bounded: p.code !== 0 || fellBack, twice: fellBack})
      if (p.code === 0 && p.stdout === expectRun(i, i) + '\n') rep.finalRunsCorrect++
      else rep.problems.push(`final run s${i}: exit ${p.code} ${p.stdout.slice(0, 100)} ${p.stderr.slice(0, 200)}`)
    }
    const stats = await exec(['stats', '--json'])
    try {
      rep.oracle = counterOracle(counts, JSON.parse(stats.stdout).counters as Record<string, number>)
    } catch {
      rep.problems.push(`final stats exit ${stats.code}: ${stats.stdout.slice(0, 300)} ${stats.stderr.slice(0, 300)}`)
    }
    if (!rep.oracle.held) rep.problems.push(`counter oracle: ${JSON.stringify(rep.oracle.counters)}`)
    // The run daemons started by the final runs go too; then nothing may be left but the store.
    killStoreProcs(cache)
    // A killed run daemon's parent is init, which may leave it a zombie: a pid still "alive" to
    // burn (lock.ts pidAlive), so its lock is stale by heartbeat age only. The final gc judges
    // with a short stale age once the heartbeats have stopped.
    await new Promise((r) => setTimeout(r, 1000))
    rep.finalGcExit = (await exec(['gc', '--tmp-age', '1ms'], {env: {BURN_LOCK_STALE_MS: '500'}})).code
    const verify = await exec(['verify', '--json'])
    rep.finalVerifyExit = verify.code
    if (verify.code !== 0 || JSON.parse(verify.stdout).clean !== true) rep.problems.push(`final verify: ${verify.stdout.slice(0, 500)}`)
    for (const dir of ['tmp', 'pending', 'damaged', 'daemon']) {
      let left: string[] = []
      try {
        left = readdirSync(join(cache, dir), {recursive: true, encoding: 'utf8'})
      } catch {
        // never made: nothing left in it
      }
      rep.debris.push(...left.map((f) => join(dir, f)))
    }
    killStoreProcs(cache)
  }
}
