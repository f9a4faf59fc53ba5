import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync} from 'node:fs'
import {connect, createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {verifyName} from '../../src/store/remote/signing.js'
import {BIN, removeTree} from '../helpers.js'
import {launchRedis, type RedisServer} from '../fixtures/redis.js'
import {rng} from './harness.js'
import {kill9, killStoreProcs} from './procs.js'

/*
 * The torture harness's remote mode (issue 16): one shared redis-server, several cache dirs (the
 * machines of a CI fleet), workers that register, run, pull and forget at random in them, and
 * burn processes SIGKILLed while they fetch from or publish to the remote. The remote sits
 * behind a relay that delays every chunk a few milliseconds, so a fetch or a publish lasts long
 * enough to be killed inside; a kill counts as inside remote work only when the process (or
 * its child) held a connection to the relay at that moment, read from /proc. Now and then the
 * server itself is SIGKILLed and started again empty behind the same relay.
 *
 * What must hold: no run ever prints a wrong result, no exit but the expected ones, every cache
 * dir free of damage burn made and clean after gc, every value on the server what its key says
 * (a source hashing to its key, a name signed for the hash it names), and at the end every
 * script runs right in every cache dir.
 */

export interface RemoteTortureOpts {
  seconds: number
  workers: number
  dirs: number
  scripts: number
  /** The share of operations killed once they are connected to the remote. */
  killRate: number
  /** Seconds between SIGKILLs of the server (0: never). */
  serverKillEvery: number
  seed: number
  log?: (line: string) => void
}

export interface RemoteTortureReport {
  seed: number
  operations: number
  kills: {fetch: number; publish: number; missed: number}
  serverKills: number
  fetchedRuns: number
  wrongResults: number
  unexpectedExits: number
  unplannedDamage: number
  finalGcExits: number[]
  finalVerifyExits: number[]
  remoteValues: number
  badRemoteValues: number
  finalRunsCorrect: number
  finalRunsTotal: number
  problems: string[]
}

const KEY = 'torture-key'
const sha = (s: string) => createHash('sha256').update(s).digest('hex')
const source = (i: number) => `module.exports = (x) => ({s: ${i}, x, sum: x * ${i + 1} + ${i * i}})\n`
const expectRun = (i: number, x: number) => JSON.stringify({s: i, x, sum: x * (i + 1) + i * i})

/** A relay to the server's current port that holds every chunk a few ms; `retarget` after a restart. */
class SlowRelay {
  private target = 0
  private readonly sockets = new Set<Socket>()
  private server?: Server
  port = 0

  async start(target: number, random: () => number): Promise<void> {
    this.target = target
    this.server = createServer((down) => {
      const up = connect(this.target, '127.0.0.1')
      for (const [a, b] of [
        [down, up],
        [up, down],
      ] as const) {
        this.sockets.add(a)
        a.on('error', () => {})
        a.on('close', () => b.destroy())
        let chain = Promise.resolve()
        a.on('data', (chunk: Buffer) => {
          const delay = 2 + Math.floor(random() * 25)
          chain = chain.then(() => new Promise<void>((r) => setTimeout(() => (b.destroyed || b.write(chunk), r()), delay)))
        })
      }
    })
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r))
    this.port = (this.server.address() as {port: number}).port
  }

  retarget(port: number): void {
    this.target = port
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  close(): void {
    for (const s of this.sockets) s.destroy()
    this.server?.close()
  }
}

/** The pid and its descendants (Linux /proc children lists). */
function tree(pid: number): number[] {
  const out = [pid]
  for (let i = 0; i < out.length; i++) {
    try {
      const kids = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim()
      if (kids) out.push(...kids.split(/\s+/).map(Number))
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** Whether any process of the tree holds a TCP connection to 127.0.0.1:`port` (its sockets' inodes in /proc/net/tcp). */
function connectedTo(pids: number[], port: number): boolean {
  const inodes = new Set<string>()
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`, {encoding: 'utf8'})
        if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1))
      }
    } catch {
      // gone meanwhile, or an fd closed while listed
    }
  }
  if (inodes.size === 0) return false
  const want = port.toString(16).toUpperCase().padStart(4, '0')
  const rows = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
  return rows.some((row) => {
    const f = row.trim().split(/\s+/)
    return f.length > 9 && f[2]?.endsWith(`:${want}`) && f[3] === '01' && inodes.has(f[9])
  })
}

interface Exec {
  code: number | null
  stdout: string
  stderr: string
  killedInRemote: boolean
  /** Asked to be killed, but it ended before it connected (or after it closed). */
  missed: boolean
}

const WARNING = /^burn: remote cache \S+ is unavailable \(.*\); going on with the local cache only\n/gm
const notFound = (ref: string) =>
  `Error: no script matches ${JSON.stringify(ref)}; \`burn list\` shows what is registered, \`burn register <file>\` adds one\n`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const emptyReport = (seed: number): RemoteTortureReport => ({
  seed,
  operations: 0,
  kills: {fetch: 0, publish: 0, missed: 0},
  serverKills: 0,
  fetchedRuns: 0,
  wrongResults: 0,
  unexpectedExits: 0,
  unplannedDamage: 0,
  finalGcExits: [],
  finalVerifyExits: [],
  remoteValues: 0,
  badRemoteValues: 0,
  finalRunsCorrect: 0,
  finalRunsTotal: 0,
  problems: [],
})

export async function remoteTorture(opts: RemoteTortureOpts): Promise<RemoteTortureReport> {
  const t = new RemoteTorture(opts, mkdtempSync(join(tmpdir(), 'burn-rtorture-')), await launchRedis({tcp: true}))
  try {
    await t.relay.start(t.server.port!, t.random)
    // the remote starts warm, so that a fresh machine's first run has something to fetch
    await t.warmRemote()
    t.deadline = Date.now() + opts.seconds * 1000
    await Promise.all([...Array.from({length: opts.workers}, () => t.worker()), t.serverKiller()])
    await t.finalChecks()
  } finally {
    await t.cleanUp()
  }
  return t.rep
}

class RemoteTorture {
  readonly random: () => number
  readonly rep: RemoteTortureReport
  readonly relay = new SlowRelay()
  readonly dirs: string[]
  /** Cache dirs made for one killed fetch (a fresh machine always fetches): checked at the end like the others. */
  readonly fresh: string[] = []
  readonly files: string[]
  readonly hashes: string[]
  readonly env: NodeJS.ProcessEnv
  deadline = 0

  constructor(
    readonly opts: RemoteTortureOpts,
    readonly root: string,
    public server: RedisServer,
  ) {
    this.random = rng(opts.seed)
    this.rep = emptyReport(opts.seed)
    this.dirs = Array.from({length: opts.dirs}, (_, i) => join(root, `machine${i}`))
    mkdirSync(join(root, 'files'))
    this.files = Array.from({length: opts.scripts}, (_, i) => join(root, 'files', `s${i}.js`))
    this.files.forEach((f, i) => writeFileSync(f, source(i)))
    this.hashes = this.files.map((_, i) => sha(source(i)))
    this.env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BURN_')))
    // (BURN_REMOTE names the relay's port, known once it started: exec adds it)
    Object.assign(this.env, {BURN_DAEMON: 'off', BURN_REMOTE_KEY: KEY, BURN_REMOTE_TIMEOUT: '15s'})
  }

  problem(line: string): void {
    this.rep.problems.push(line)
    this.opts.log?.(line)
  }

  async exec(dir: string, args: string[], kill = false, extra: NodeJS.ProcessEnv = {}): Promise<Exec> {
    const env = {...this.env, BURN_REMOTE: `redis://127.0.0.1:${this.relay.port}`, ...extra, BURN_CACHE_DIR: dir}
    const child = spawn(process.execPath, [BIN, ...args], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    let ended = false
    const closed = new Promise<number | null>((r) => child.on('close', (code) => ((ended = true), r(code))))
    let killedInRemote = false
    if (kill) {
      // wait until it talks to the remote, then kill it a moment later, inside that work
      for (const until = Date.now() + 60_000; !ended && Date.now() < until; await sleep(8)) {
        if (!connectedTo(tree(child.pid!), this.relay.port)) continue
        await sleep(this.random() * 30)
        const pids = tree(child.pid!)
        killedInRemote = !ended && connectedTo(pids, this.relay.port)
        for (const p of pids.reverse()) kill9(p)
        break
      }
    }
    return {code: await closed, stdout, stderr, killedInRemote, missed: kill && !killedInRemote}
  }

  /** Past the deadline, a short run on a slow machine goes on (a minute at most) until it killed inside both. */
  going(): boolean {
    const {kills} = this.rep
    return Date.now() < this.deadline || ((kills.fetch === 0 || kills.publish === 0) && Date.now() < this.deadline + 60_000)
  }

  async worker(): Promise<void> {
    while (this.going()) await this.operate()
  }

  /** The server dies now and then (SIGKILL) and comes back empty behind the same relay. */
  async serverKiller(): Promise<void> {
    const every = this.opts.serverKillEvery * 1000
    let at = Date.now()
    while (every > 0 && Date.now() + 1000 < this.deadline) {
      await sleep(200)
      if (Date.now() - at < every) continue
      await this.server.kill()
      removeTree(this.server.dir)
      this.server = await launchRedis({tcp: true})
      this.relay.retarget(this.server.port!)
      this.rep.serverKills++
      at = Date.now()
    }
  }

  /** One random operation in a random cache dir. */
  async operate(): Promise<void> {
    const {random, rep, hashes, files} = this
    let r = random()
    let dir = this.dirs[Math.floor(random() * this.dirs.length)]
    const i = Math.floor(random() * this.opts.scripts)
    const ref = random() < 0.5 ? hashes[i] : `t${i}`
    const x = Math.floor(random() * 1000)
    const kill = random() < this.opts.killRate
    // a short run still kills inside both: the first kills go to a publish, then to a fetch on a fresh machine
    if (kill && rep.kills.publish === 0) r = 0
    else if (kill && rep.kills.fetch === 0) {
      r = 0.5
      dir = join(this.root, `fresh${this.fresh.length}`)
      this.fresh.push(dir)
    }
    rep.operations++
    let args: string[]
    if (r < 0.3) args = ['register', files[i], '--name', `t${i}`]
    else if (r < 0.7) args = ['run', ref, '--input', String(x)]
    else if (r < 0.8) args = ['pull', ref]
    else args = ['forget', hashes[i]]
    const p = await this.exec(dir, args, kill && args[0] !== 'forget')
    if (p.killedInRemote) rep.kills[args[0] === 'register' ? 'publish' : 'fetch']++
    if (p.missed) rep.kills.missed++
    if (p.code !== null) this.check(dir, args, p, i, ref, x)
  }

  /** An operation that ended by itself: a run's result exact, every exit one the operation may have. */
  check(dir: string, args: string[], p: Exec, i: number, ref: string, x: number): void {
    const err = p.stderr.replace(WARNING, '')
    const out = `stdout ${JSON.stringify(p.stdout.slice(0, 200))}, stderr ${JSON.stringify(p.stderr.slice(0, 300))}`
    const what = `${args.join(' ')} in ${dir}: exit ${p.code}, ${out}`
    if (args[0] === 'run' && p.code === 0) {
      if (p.stdout !== expectRun(i, x) + '\n') {
        this.rep.wrongResults++
        this.problem(`WRONG RESULT: ${what}`)
      }
      if (err === '') return
    }
    const listed = p.stdout.startsWith(`${this.hashes[i]}  `)
    const ok =
      (args[0] === 'run' && p.code === 3 && err === notFound(ref)) ||
      (args[0] === 'register' && p.code === 0 && err === '' && listed) ||
      (args[0] === 'pull' && err === '' && ((p.code === 0 && listed) || p.code === 3)) ||
      (args[0] === 'forget' && (p.code === 0 || p.code === 3))
    if (!ok) {
      this.rep.unexpectedExits++
      this.problem(`unexpected: ${what}`)
    }
  }

  /** Every script registered with its name in a cache dir of its own (so every name record is on the server). */
  async warmRemote(): Promise<void> {
    for (const [i, f] of this.files.entries()) {
      const warm = await this.exec(join(this.root, 'warm'), ['register', f, '--name', `t${i}`])
      if (warm.code !== 0 || warm.stderr !== '') this.problem(`warm-up register: exit ${warm.code} ${warm.stderr.slice(0, 300)}`)
    }
  }

  async finalChecks(): Promise<void> {
    const all = [...this.dirs, ...this.fresh]
    for (const d of all) killStoreProcs(d)
    // damage burn made itself, before anything repairs or collects
    for (const d of all) await this.damage(d)
    // the remote gets everything again (it may have just restarted empty), then every machine runs every script
    await this.warmRemote()
    for (const d of this.dirs) await this.finalRuns(d)
    await sleep(1000)
    for (const d of all) {
      const gc = await this.exec(d, ['gc', '--tmp-age', '1ms'], false, {BURN_LOCK_STALE_MS: '500'})
      this.rep.finalGcExits.push(gc.code ?? -1)
      const v = await this.exec(d, ['verify', '--json'])
      this.rep.finalVerifyExits.push(v.code ?? -1)
      if (v.code !== 0) this.problem(`final verify in ${d}: ${v.stdout.slice(0, 500)}`)
    }
    await checkRemoteValues(this.server, this.hashes, this.rep, (l) => this.problem(l))
  }

  async damage(d: string): Promise<void> {
    const v = await this.exec(d, ['verify', '--json'])
    try {
      for (const pr of JSON.parse(v.stdout).problems as Array<{severity: string; path: string; kind: string; detail: string}>) {
        if (pr.severity !== 'damage') continue
        this.rep.unplannedDamage++
        this.problem(`damage in ${d}: ${pr.kind} ${pr.path}: ${pr.detail}`)
      }
    } catch {
      this.rep.unplannedDamage++
      this.problem(`verify in ${d}: not JSON (exit ${v.code}): ${v.stderr.slice(0, 300)}`)
    }
  }

  async finalRuns(d: string): Promise<void> {
    for (let i = 0; i < this.opts.scripts; i++) {
      this.rep.finalRunsTotal++
      const p = await this.exec(d, ['run', this.hashes[i], '--input', String(i)])
      // (a remote that timed out on a loaded machine is said on stderr and changes no result)
      if (p.code === 0 && p.stdout === expectRun(i, i) + '\n' && p.stderr.replace(WARNING, '') === '') this.rep.finalRunsCorrect++
      else this.problem(`final run s${i} in ${d}: exit ${p.code} ${p.stdout.slice(0, 100)} ${p.stderr.slice(0, 200)}`)
    }
    const st = await this.exec(d, ['stats', '--json'])
    this.rep.fetchedRuns += (JSON.parse(st.stdout) as {counters: Record<string, number>}).counters['remote.hits'] ?? 0
  }

  async cleanUp(): Promise<void> {
    for (const d of [...this.dirs, ...this.fresh]) killStoreProcs(d)
    this.relay.close()
    await this.server.stop()
    removeTree(this.server.dir)
    removeTree(this.root)
  }
}

/** Every value on the server is what its key says: a source hashes to its key, a name is signed for the hash it names. */
async function checkRemoteValues(server: RedisServer, hashes: string[], rep: RemoteTortureReport, problem: (l: string) => void) {
  for (const key of await server.keys('burn:*')) {
    rep.remoteValues++
    const value = (await server.get(key)) ?? Buffer.alloc(0)
    const [, kind, rest] = /^burn:(src|name|cc|eng):(.*)$/.exec(key) ?? []
    const name = kind === 'name' ? verifyName(value, rest, KEY) : undefined
    const good =
      kind === 'src'
        ? createHash('sha256').update(value).digest('hex') === rest
        : name !== undefined
          ? name.ok && name.value === hashes[Number(rest.slice(1))]
          : kind !== undefined && value.length > 0
    if (!good) {
      rep.badRemoteValues++
      problem(`remote value ${key} is not what its key says (${value.length} bytes)`)
    }
  }
}

export function remoteSummary(r: RemoteTortureReport): string {
  return [
    `seed ${r.seed}: operations ${r.operations}, server kills ${r.serverKills}`,
    `kills inside remote work: fetch ${r.kills.fetch}, publish ${r.kills.publish} (asked but missed ${r.kills.missed})`,
    `wrong results ${r.wrongResults}, unexpected exits ${r.unexpectedExits}, damage burn made ${r.unplannedDamage}`,
    `remote values ${r.remoteValues} (bad ${r.badRemoteValues}), fetched runs (remote.hits) ${r.fetchedRuns}`,
    `final gc exits ${r.finalGcExits.join(',')}, verify exits ${r.finalVerifyExits.join(',')}, ` +
      `runs ${r.finalRunsCorrect}/${r.finalRunsTotal}`,
  ].join('\n')
}

export function remoteTortureHeld(r: RemoteTortureReport): boolean {
  return (
    r.wrongResults === 0 &&
    r.unexpectedExits === 0 &&
    r.unplannedDamage === 0 &&
    r.badRemoteValues === 0 &&
    r.finalGcExits.every((c) => c === 0) &&
    r.finalVerifyExits.every((c) => c === 0) &&
    r.finalRunsCorrect === r.finalRunsTotal
  )
}
