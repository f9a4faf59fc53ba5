import {link, mkdir, open, rename, rm, stat, utimes} from 'node:fs/promises'
import {hostname} from 'node:os'
import {dirname} from 'node:path'
import {faultPoint} from '../util/faults.js'
import {randomHex, writeData} from './atomic.js'
import {readRegular} from '../util/read-regular.js'

/*
 * Cross-process lock files for the pending registry (ccache's design plus a PID check).
 * Hand-written rather than proper-lockfile: that library judges staleness by mtime alone
 * (a dead owner is only noticed after the stale period, minimum 2 s, where a PID check
 * answers at once), and its stale-lock removal has the race ccache documents (two breakers,
 * one removes the other's fresh lock). Here:
 *  - acquire: create `<key>.lock` with O_EXCL, holding {pid, host, token}; read it back.
 *  - heartbeat: the owner touches the file's mtime every HEARTBEAT_MS.
 *  - stale: the owner is on this host and its PID is gone, or the mtime is older than staleMs.
 *  - break: rename the lock to a unique name (only one breaker can move a given file), then
 *    check that what was moved is the stale lock that was judged; if a live lock was moved by
 *    mistake it is linked back (link fails rather than overwrite a newer lock).
 *  - an owner can ask `stillOwned()` before acting; losing the lock only ever costs a
 *    duplicate compile, because every publish is an atomic rename of identical bytes.
 */
const HEARTBEAT_MS = 500
const HOST = hostname()

export interface LockOptions {
  /** How long to wait for a live holder before giving up (the caller then proceeds without). */
  waitMs?: number
  /** A lock whose heartbeat is older than this is stale. */
  staleMs?: number
  /** Create the lock's directory (and its parents) when missing; off, a missing one is an ENOENT. */
  makeDir?: boolean
}

export interface LockInfo {
  pid: number
  host: string
  token: string
  created: number
}

export class Lock {
  private timer: NodeJS.Timeout
  constructor(
    readonly path: string,
    readonly token: string,
    readonly waited: boolean,
  ) {
    this.timer = setInterval(() => {
      const now = new Date()
      utimes(this.path, now, now).catch(() => {})
    }, HEARTBEAT_MS)
    this.timer.unref()
  }

  async stillOwned(): Promise<boolean> {
    const info = await readInfo(this.path)
    return info?.token === this.token
  }

  async release(): Promise<void> {
    clearInterval(this.timer)
    // Remove only our own lock: if it was broken and retaken, the new owner keeps it.
    if (await this.stillOwned()) await rm(this.path, {force: true})
  }
}

export type Acquired = Lock | {timedOut: true}

function envMs(name: string, fallback: number): number {
  const v = Number(process.env[name])
  return Number.isFinite(v) && v >= 0 ? v : fallback
}

/** How long a waiter waits for a live holder by default (tests and the torture run shorten it). */
export const lockWaitMs = () => envMs('BURN_LOCK_WAIT_MS', 60_000)
/** The heartbeat age past which a lock is stale by default, for acquirers, gc, verify and usage alike. */
export const lockStaleMs = () => envMs('BURN_LOCK_STALE_MS', 10_000)

export async function acquireLock(path: string, opts: LockOptions = {}): Promise<Acquired> {
  const waitMs = opts.waitMs ?? lockWaitMs()
  const staleMs = opts.staleMs ?? lockStaleMs()
  const deadline = Date.now() + waitMs
  let waited = false
  let delay = 5
  if (opts.makeDir ?? true) await mkdir(dirname(path), {recursive: true, mode: 0o700})
  for (;;) {
    // (the pid first: Math.random repeats across processes started with the same --random-seed)
    const token = process.pid.toString(16).padStart(8, '0').slice(-8) + randomHex(8)
    if (await tryCreate(path, token)) {
      faultPoint('lock:acquired')
      if ((await readInfo(path))?.token === token) return new Lock(path, token, waited)
    } else if (await breakIfStale(path, staleMs)) {
      continue
    }
    if (Date.now() >= deadline) return {timedOut: true}
    waited = true
    await sleep(delay + Math.random() * delay)
    delay = Math.min(delay * 2, 50)
  }
}

/**
 * Runs `fn` holding the lock at `path` and releases it after, whatever `fn` does. When the wait
 * times out: with `busy`, its value is returned and `fn` does not run; without, `fn` runs
 * without the lock (`lock` undefined), which acquireLock's callers accept where the lock only
 * saves duplicate work.
 */
export async function withLock<T>(path: string, opts: LockOptions & {busy?: () => T}, fn: (lock?: Lock) => Promise<T>): Promise<T> {
  const got = await acquireLock(path, opts)
  const lock = got instanceof Lock ? got : undefined
  if (!lock && opts.busy) return opts.busy()
  try {
    return await fn(lock)
  } finally {
    await lock?.release()
  }
}

async function tryCreate(path: string, token: string): Promise<boolean> {
  let fh
  try {
    fh = await open(path, 'wx', 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
  try {
    const info: LockInfo = {pid: process.pid, host: HOST, token, created: Date.now()}
    await writeData(fh, JSON.stringify(info), 'lock')
  } catch (error) {
    // A lock file without its whole owner record (a full disk) would hold others off until
    // judged stale, and stay behind as debris: it was ours alone (O_EXCL), so it goes now.
    await fh.close().catch(() => {})
    await rm(path, {force: true}).catch(() => {})
    throw error
  }
  await fh.close()
  return true
}

export async function readInfo(path: string): Promise<LockInfo | undefined> {
  try {
    const info = JSON.parse((await readRegular(path)).toString('utf8')) as LockInfo
    return typeof info.token === 'string' ? info : undefined
  } catch {
    return undefined
  }
}

/** Whether a lock's owner is a live process of this host. */
export function ownerAlive(info: LockInfo): boolean {
  return info.host === HOST && pidAlive(info.pid)
}

export function pidAlive(pid: number): boolean {
  // (0 and negative numbers name process groups, -1 every process: never an owner)
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Why a lock is stale, or undefined while its owner is alive and beating. */
export async function staleReason(path: string, staleMs: number): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined)
  if (!st) return undefined
  const info = await readInfo(path)
  if (info && info.host === HOST && !pidAlive(info.pid)) return `owner process ${info.pid} is gone`
  const age = Date.now() - st.mtimeMs
  // A lock file with no readable owner was caught between create and write: give it a moment.
  if (!info && age > Math.min(staleMs, 2000)) return 'lock file has no owner record'
  if (age > staleMs) return `heartbeat stopped ${Math.round(age)} ms ago`
  return undefined
}

/**
 * For `gc` and `verify --fix`: breaks the lock at `path` if it is stale, by the same safe
 * procedure as a waiting acquirer, and says why; undefined when it is live (or already gone).
 */
export async function breakStaleLock(path: string, staleMs: number): Promise<string | undefined> {
  const reason = await staleReason(path, staleMs)
  if (!reason) return undefined
  return (await breakIfStale(path, staleMs)) ? reason : undefined
}

async function breakIfStale(path: string, staleMs: number): Promise<boolean> {
  if (!(await staleReason(path, staleMs))) return false
  await breakJudged(path, await readInfo(path))
  return true
}

/**
 * Removes the lock at `path` that was judged dead as `judged` (what it held then), and only
 * that one: a lock taken since is left in place. False when someone else moved it first.
 */
export async function breakJudged(path: string, judged: LockInfo | undefined): Promise<boolean> {
  const aside = `${path}.broken.${process.pid}.${randomHex(6)}`
  try {
    await rename(path, aside)
  } catch {
    return false
  }
  const moved = await readInfo(aside)
  if (judged && moved && moved.token !== judged.token) {
    // We moved a fresh lock taken after our judgement: put it back unless a newer one exists.
    await link(aside, path).catch(() => {})
  }
  await rm(aside, {force: true})
  return true
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
