import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {BIN, removeTree} from '../helpers.js'

/*
 * The crash-and-concurrency torture test (zccache's rule: a lookup returns the correct content
 * or a miss, never another key's content, never partial content). Several workers run random
 * register / run / batch / forget / gc operations on one store; a controller SIGKILLs a share
 * of them at random moments, and others die at the registry's named fault points. Every
 * script's output encodes its own identity and its input, so a wrong hit is visible.
 */
export interface TortureOptions {
  seconds: number
  workers: number
  scripts: number
  killRate: number
  seed: number
  log?: (line: string) => void
  /** Operations to mix (default: all). */
  ops?: string[]
}

export interface TortureReport {
  seed: number
  operations: number
  byOp: Record<string, number>
  kills: number
  faultKills: number
  wrongResults: number
  unexpectedExits: number
  problems: string[]
  finalVerifyExit: number | null
  finalGcExit: number | null
  finalRunsCorrect: number
  finalRunsTotal: number
  statsSane: boolean
}

const FAULT_POINTS = [
  'lock:acquired',
  'register:compiled',
  'object:tmp-written',
  'object:tmp-synced',
  'object:renamed',
  'register:object-written',
  'engines:tmp-written',
  'engines:renamed',
  'compiled:tmp-written',
  'compiled:tmp-synced',
  'compiled:renamed',
  'name:tmp-written',
  'name:renamed',
  'stats:tmp-written',
  'stats:renamed',
]

function rng(seed: number): () => number {
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

interface Proc {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  killedByUs: boolean
}

export async function torture(opts: TortureOptions): Promise<TortureReport> {
  const random = rng(opts.seed)
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]
  const root = mkdtempSync(join(tmpdir(), 'burn-torture-'))
  const cache = join(root, 'cache')
  const src = join(root, 'src')
  mkdirSync(src)
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
    kills: 0,
    faultKills: 0,
    wrongResults: 0,
    unexpectedExits: 0,
    problems: [],
    finalVerifyExit: null,
    finalGcExit: null,
    finalRunsCorrect: 0,
    finalRunsTotal: 0,
    statsSane: false,
  }
  const problem = (kind: 'wrong' | 'exit', msg: string) => {
    if (kind === 'wrong') rep.wrongResults++
    else rep.unexpectedExits++
    if (rep.problems.length < 50) rep.problems.push(msg)
    opts.log?.(`PROBLEM ${msg}`)
  }
  const env = {...process.env, BURN_CACHE_DIR: cache, BURN_LOCK_STALE_MS: '3000', BURN_LOCK_WAIT_MS: '20000'}

  const exec = (args: string[], o: {fault?: string; input?: string; kill?: boolean} = {}): Promise<Proc> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: o.fault ? {...env, BURN_FAULT: o.fault} : env,
        stdio: ['pipe', 'pipe', 'pipe'],
      })
      const p: Proc = {code: null, signal: null, stdout: '', stderr: '', killedByUs: false}
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
      child.on('close', (code, signal) => resolve({...p, code, signal}))
    })

  const ops: Record<string, () => Promise<void>> = {
    register: async () => {
      const i = Math.floor(random() * opts.scripts)
      const fault = random() < 0.15 ? pick(FAULT_POINTS) : undefined
      const p = await exec(['register', files[i], '--json', ...(random() < 0.3 ? ['--name', `n${i}`] : [])], {
        fault,
        kill: random() < opts.killRate,
      })
      if (p.signal === 'SIGKILL') {
        if (p.killedByUs) rep.kills++
        else rep.faultKills++
        return
      }
      if (p.code !== 0) return problem('exit', `register s${i} exit ${p.code}: ${p.stderr.slice(0, 300)}`)
      const got = JSON.parse(p.stdout).results[0].hash
      if (got !== hashes[i]) problem('wrong', `register s${i} gave hash ${got}`)
    },
    run: async () => {
      const i = Math.floor(random() * opts.scripts)
      const input = Math.floor(random() * 1000)
      const ref = random() < 0.5 ? hashes[i] : hashes[i].slice(0, 10)
      const p = await exec(['run', ref, '--input', String(input)], {kill: random() < opts.killRate})
      if (p.signal === 'SIGKILL') return void (p.killedByUs ? rep.kills++ : rep.faultKills++)
      if (p.code === 3) return // not registered (yet, or forgotten): a clean miss
      if (p.code !== 0) return problem('exit', `run s${i} exit ${p.code}: ${p.stderr.slice(0, 300)}`)
      if (p.stdout !== expectRun(i, input) + '\n') problem('wrong', `run s${i} input ${input} gave ${p.stdout.slice(0, 200)}`)
    },
    batch: async () => {
      const i = Math.floor(random() * opts.scripts)
      const n = 1 + Math.floor(random() * 300)
      const rows = Array.from({length: n}, (_, k) => k + Math.floor(random() * 100))
      const p = await exec(['batch', hashes[i], '--chunk-size', String(1 + Math.floor(random() * 50)), '--concurrency', '2'], {
        input: rows.map(String).join('\n') + '\n',
        kill: random() < opts.killRate,
      })
      if (p.signal === 'SIGKILL') return void (p.killedByUs ? rep.kills++ : rep.faultKills++)
      if (p.code === 3) return
      if (p.code !== 0) return problem('exit', `batch s${i} exit ${p.code}: ${p.stderr.slice(0, 300)}`)
      const want = rows.map((r) => expectRow(i, r)).join('\n') + '\n'
      if (p.stdout !== want) problem('wrong', `batch s${i} gave ${p.stdout.slice(0, 200)}`)
    },
    forget: async () => {
      const i = Math.floor(random() * opts.scripts)
      const p = await exec(['forget', hashes[i]], {kill: random() < opts.killRate})
      if (p.signal === 'SIGKILL') return void (p.killedByUs ? rep.kills++ : rep.faultKills++)
      if (p.code !== 0) problem('exit', `forget s${i} exit ${p.code}: ${p.stderr.slice(0, 300)}`)
    },
    gc: async () => {
      const p = await exec(['gc', '--json', ...(random() < 0.3 ? ['--max-size', '2KB'] : [])], {kill: random() < opts.killRate})
      if (p.signal === 'SIGKILL') return void (p.killedByUs ? rep.kills++ : rep.faultKills++)
      if (p.code !== 0) problem('exit', `gc exit ${p.code}: ${p.stderr.slice(0, 300)}`)
    },
  }
  const weights = (
    [
      ['register', 4],
      ['run', 8],
      ['batch', 2],
      ['forget', 1],
      ['gc', 1],
    ] as Array<[string, number]>
  ).filter(([op]) => !opts.ops || opts.ops.includes(op))
  const total = weights.reduce((a, [, w]) => a + w, 0)
  const chooseOp = () => {
    let x = random() * total
    for (const [name, w] of weights) if ((x -= w) < 0) return name
    return 'run'
  }

  // Warm the store once so early runs have something to hit.
  await exec(['register', ...files])
  const deadline = Date.now() + opts.seconds * 1000
  await Promise.all(
    Array.from({length: opts.workers}, async () => {
      while (Date.now() < deadline) {
        const op = chooseOp()
        await ops[op]()
        rep.operations++
        rep.byOp[op] = (rep.byOp[op] ?? 0) + 1
      }
    }),
  )

  // The end state: gc and verify are clean, stats are sane, every script answers correctly.
  rep.finalGcExit = (await exec(['gc'])).code
  const verify = await exec(['verify', '--json'])
  rep.finalVerifyExit = verify.code
  if (verify.code !== 0) rep.problems.push(`final verify: ${verify.stdout.slice(0, 500)}`)
  const stats = await exec(['stats', '--json'])
  try {
    const counters = JSON.parse(stats.stdout).counters as Record<string, number>
    // every counter a whole non-negative number, and no compile without a miss before it
    rep.statsSane =
      Object.values(counters).every((v) => Number.isInteger(v) && v >= 0) && (counters.compiles ?? 0) <= (counters.misses ?? 0)
  } catch {
    rep.statsSane = false
  }
  const reg = await exec(['register', ...files, '--json'])
  if (reg.code !== 0) rep.problems.push(`final register exit ${reg.code}: ${reg.stderr.slice(0, 300)}`)
  for (let i = 0; i < opts.scripts; i++) {
    rep.finalRunsTotal++
    const p = await exec(['run', hashes[i], '--input', String(i)])
    if (p.code === 0 && p.stdout === expectRun(i, i) + '\n') rep.finalRunsCorrect++
    else rep.problems.push(`final run s${i}: exit ${p.code} ${p.stdout.slice(0, 100)} ${p.stderr.slice(0, 200)}`)
  }
  removeTree(root)
  return rep
}
