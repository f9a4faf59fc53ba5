import {existsSync, readdirSync} from 'node:fs'
import {chmod} from 'node:fs/promises'
import {resolve} from 'node:path'
import {removeAlias} from '../store/names.js'
import {decodeArtifact} from '../engines/artifact.js'
import {writeAtomic} from '../store/atomic.js'
import {storeError} from '../util/errors.js'
import {removeScript} from './forget.js'
import {loadXxh64, sha256} from '../util/hash.js'
import {checkName, checkTag, FULL_HASH, Layout, STORE_FORMAT} from '../store/layout.js'
import {acquireLock, breakStaleLock, Lock, staleReason} from '../store/lock.js'
import {
  DEFAULT_TMP_AGE_MS,
  ITEM_WAIT_MS,
  lockStaleMs,
  maintenanceLock,
  removeIfUnchanged,
  setAsideIfUnchanged,
  underKeyLock,
  underKeyLocks,
  unchanged,
  type Outcome,
} from './repair.js'
import {readRegular, readRegularSync} from '../util/read-regular.js'
import {scanStore, type Entry} from '../store/scan.js'
import {checkStatsFile} from '../store/stats.js'
import {checkCacheDir, exists} from '../store/store.js'
import {parseRecord, resetRecordToSandbox} from '../store/engine-trust.js'
import {currentTags} from './usage.js'

/*
 * `burn verify`: every file of the store checked against what it claims to be, in the order of
 * cacache's verify (permissions, content, index, tmp), each problem reported once with what
 * --fix does about it. Sources are read once each (SHA-256 and xxh64 of the same buffer) and
 * each compiled form once (decodeArtifact checks header, checksums, tag and source hash, and
 * its recorded source length and xxh64 are compared with the source just read).
 *
 * Severity: `damage` is what makes the store wrong or unsafe (exit 8 while it remains);
 * `debris` is harmless leftover that --fix (or gc) removes: a clean store has neither.
 */

const SANDBOX_FIX = 'set aside (damaged/) and replaced by ["quickjs"]: the sandbox only, until `burn register --engine v8` trusts it again'

/** A damaged engines record, set aside and replaced by the sandbox only (engine-trust.ts resetRecordToSandbox). */
function replaceRecord(layout: Layout, e: Entry, hash: string, tags: Iterable<string>): Promise<Outcome> {
  return underKeyLocks(
    layout,
    hash,
    [...tags],
    () => unchanged(e),
    async () => {
      const outcome = await setAsideIfUnchanged(layout, e, 'engines')
      if (outcome === 'done') await resetRecordToSandbox(layout, hash)
      return outcome
    },
  )
}

export type ProblemKind =
  | 'store-json'
  | 'permissions'
  | 'source-mismatch'
  | 'compiled-bad'
  | 'misplaced'
  | 'bad-alias'
  | 'dangling-alias'
  | 'stats-bad'
  | 'unreadable'
  | 'orphan-compiled'
  | 'foreign-compiled'
  | 'stale-lock'
  | 'old-tmp'
  | 'engines-bad'
  | 'orphan-engines'

const DEBRIS = new Set<ProblemKind>(['orphan-compiled', 'foreign-compiled', 'orphan-engines', 'stale-lock', 'old-tmp'])

export interface Problem {
  kind: ProblemKind
  severity: 'damage' | 'debris'
  /** Relative to the store root. */
  path: string
  hash?: string
  detail: string
  /** What --fix does (or did) about it. */
  action: string
  /** With --fix: whether the repair happened (false: it could not, and `detail` says why). */
  fixed?: boolean
}

export interface VerifyOptions {
  fix?: boolean
  keepForeign?: boolean
  tmpAgeMs?: number
  onProgress?: (done: number, total: number) => void
}

export interface VerifyReport {
  store: string
  fix: boolean
  /** No problem of any kind left. */
  clean: boolean
  /** Damage found and not repaired: exit 8 when > 0. */
  damage: number
  problems: Problem[]
  checked: {
    sources: number
    sourceBytes: number
    compiled: number
    compiledBytes: number
    engineRecords: number
    names: number
    locks: number
    tmpFiles: number
    statsFiles: number
  }
  /** Files in damaged/ (set aside earlier; `burn gc` removes them). */
  setAside: number
  ms: number
}

interface Found extends Problem {
  repair?: () => Promise<Outcome | boolean>
}

const KNOWN_TOP = new Set([
  'store.json',
  'CACHEDIR.TAG',
  'objects',
  'compiled',
  'engines',
  'names',
  'pending',
  'stats',
  'tmp',
  'damaged',
  'daemon',
])

export async function verifyStore(root: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const t0 = Date.now()
  const layout = new Layout(resolve(root))
  const store = {layout, root: layout.root}
  const tmpAgeMs = opts.tmpAgeMs ?? DEFAULT_TMP_AGE_MS
  const found: Found[] = []
  const add = (p: Omit<Found, 'severity'>) => found.push({...p, severity: DEBRIS.has(p.kind) ? 'debris' : 'damage'})

  const storeJson = await checkStoreJson(layout)
  const lock = opts.fix ? await maintenanceLock(layout) : undefined
  try {
    const scan = scanStore(layout)
    const current = new Set(currentTags())
    const xxh = await loadXxh64()
    const uid = process.getuid?.()
    const checked: VerifyReport['checked'] = {
      sources: 0,
      sourceBytes: 0,
      compiled: 0,
      compiledBytes: 0,
      engineRecords: 0,
      names: 0,
      locks: 0,
      tmpFiles: 0,
      statsFiles: 0,
    }

    // 1. Permissions: the store is private to its user (0700 directories, 0600 files). Group or
    // other bits below the root, a group/other-writable root, or a file burn cannot read.
    const badMode = new Set<string>()
    for (const e of [...scan.dirs, ...Object.values(scan.files).flat()]) {
      if (e.rel.startsWith('damaged/') || e.type === 'other') continue
      const isRoot = e.rel === '.'
      const want = e.type === 'dir' ? 0o700 : 0o600
      const extra = isRoot ? e.mode & 0o022 : e.mode & 0o077
      const missing = (e.type === 'dir' ? 0o700 : 0o400) & ~e.mode
      const foreignOwner = uid !== undefined && e.uid !== uid
      if (!extra && !missing && !foreignOwner) continue
      badMode.add(e.rel)
      const why = [
        extra ? `mode ${fmtMode(e.mode)} gives access to ${extra & 0o070 ? 'group' : 'others'}` : '',
        missing ? `mode ${fmtMode(e.mode)} denies its owner` : '',
        foreignOwner ? `owned by uid ${e.uid}, not ${uid}` : '',
      ]
      const mode = isRoot ? (e.mode & 0o777 & ~0o022) | 0o700 : want
      add({
        kind: 'permissions',
        path: e.rel,
        detail: why.filter(Boolean).join('; '),
        action: foreignOwner ? 'none: change the owner by hand (chown)' : `chmod ${fmtMode(mode)}`,
        repair: foreignOwner ? undefined : () => chmod(e.path, mode).then(() => true),
      })
    }

    // 2. Sources: SHA-256 of every byte against the name.
    const sources = new Map<string, {ok: boolean; length: number; actual?: string; xxh?: bigint; entry: Entry}>()
    const total = scan.objects.size + [...scan.compiled.values()].reduce((a, m) => a + m.size, 0)
    let done = 0
    let lastYield = Date.now()
    const tick = async () => {
      done++
      if (Date.now() - lastYield > 50) {
        opts.onProgress?.(done, total)
        await new Promise((r) => setImmediate(r))
        lastYield = Date.now()
      }
    }
    for (const [hash, e] of [...scan.objects].sort(([a], [b]) => (a < b ? -1 : 1))) {
      await tick()
      const buf = readWhole(e)
      if ('error' in buf) {
        if (buf.gone) continue // removed meanwhile (a forget or an eviction): not there, not damaged
        if (!badMode.has(e.rel))
          add({
            kind: 'unreadable',
            path: e.rel,
            hash,
            detail: buf.error,
            action: 'set aside (damaged/)',
            repair: () => setAsideIfUnchanged(layout, e, 'object'),
          })
        sources.set(hash, {ok: false, length: e.size, entry: e})
        continue
      }
      checked.sources++
      checked.sourceBytes += buf.length
      const actual = sha256(buf)
      sources.set(hash, {ok: actual === hash, length: buf.length, actual, xxh: actual === hash ? xxh(buf) : undefined, entry: e})
    }

    // 3. Compiled forms, each read once and fully decoded.
    const recorded = new Map<string, number>() // source length recorded by any valid artifact
    for (const [tag, files] of [...scan.compiled].sort(([a], [b]) => (a < b ? -1 : 1))) {
      let tagOk = true
      try {
        checkTag(tag)
      } catch {
        tagOk = false
      }
      const foreign = !current.has(tag)
      for (const [hash, e] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
        await tick()
        if (!tagOk) {
          add({
            kind: 'misplaced',
            path: e.rel,
            detail: `engine tag directory ${JSON.stringify(tag)} is not a valid tag`,
            action: 'set aside (damaged/)',
            repair: () => setAsideIfUnchanged(layout, e, 'misplaced'),
          })
          continue
        }
        const src = sources.get(hash)
        if (!src) {
          if (!existsSync(e.path)) continue
          add({
            kind: 'orphan-compiled',
            path: e.rel,
            hash,
            detail: 'its source is not in the store',
            action: 'remove',
            repair: () =>
              underKeyLock(
                layout,
                hash,
                tag,
                async () => (await unchanged(e)) && !(await exists(layout.object(hash))),
                () => removeIfUnchanged(e),
              ),
          })
          continue
        }
        const buf = readWhole(e)
        if ('error' in buf) {
          if (buf.gone) continue
          if (!badMode.has(e.rel))
            add({
              kind: 'unreadable',
              path: e.rel,
              hash,
              detail: buf.error,
              action: 'set aside (damaged/)',
              repair: () => setAsideIfUnchanged(layout, e, 'compiled'),
            })
          continue
        }
        checked.compiled++
        checked.compiledBytes += buf.length
        const decoded = decodeArtifact(buf, {tag, sourceHash: hash}, xxh)
        if (decoded.ok) recorded.set(hash, decoded.meta.sourceLength)
        if (!src.ok) continue // the source's own problem covers its compiled forms
        let why: string | undefined
        if (!decoded.ok) why = buf.length === 0 ? 'empty file' : decoded.reason
        else if (decoded.meta.sourceLength !== src.length || decoded.meta.sourceXxh !== src.xxh)
          why = 'made from other source bytes (length or xxh64 differ)'
        if (why) {
          if (why.startsWith('unknown artifact format')) storeJson.foreignContent.push(e.rel)
          add({
            kind: 'compiled-bad',
            path: e.rel,
            hash,
            detail: why,
            action: 'set aside (damaged/); the next run compiles again',
            repair: () =>
              underKeyLock(
                layout,
                hash,
                tag,
                () => unchanged(e),
                () => setAsideIfUnchanged(layout, e, 'compiled'),
              ),
          })
        } else if (foreign && !opts.keepForeign) {
          add({
            kind: 'foreign-compiled',
            path: e.rel,
            hash,
            detail: `compiled for engine tag ${tag}, not used by this burn (${[...current].join(', ')})`,
            action: 'remove (--keep-foreign keeps it)',
            repair: () =>
              underKeyLock(
                layout,
                hash,
                tag,
                () => unchanged(e),
                () => removeIfUnchanged(e),
              ),
          })
        }
      }
    }

    // 3b. Engines records (trust.ts): a JSON list of engines burn knows, beside its source.
    for (const [hash, e] of [...scan.engines].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!sources.has(hash)) {
        if (!existsSync(e.path)) continue
        add({
          kind: 'orphan-engines',
          path: e.rel,
          hash,
          detail: 'engines record of a source that is not in the store',
          action: 'remove',
          repair: () =>
            underKeyLocks(
              layout,
              hash,
              [...current],
              async () => (await unchanged(e)) && !(await exists(layout.object(hash))),
              () => removeIfUnchanged(e),
            ),
        })
        continue
      }
      const buf = readWhole(e)
      if ('error' in buf) {
        if (!buf.gone && !badMode.has(e.rel))
          add({
            kind: 'unreadable',
            path: e.rel,
            hash,
            detail: buf.error,
            action: SANDBOX_FIX,
            repair: () => replaceRecord(layout, e, hash, current),
          })
        continue
      }
      checked.engineRecords++
      const parsed = parseRecord(buf.toString('utf8'))
      if (typeof parsed !== 'string') continue
      add({
        kind: 'engines-bad',
        path: e.rel,
        hash,
        detail: `not an engines record: ${parsed}`,
        action: SANDBOX_FIX,
        repair: () => replaceRecord(layout, e, hash, current),
      })
    }

    // Sources found damaged: the script leaves the store (its source set aside; its compiled
    // forms and names removed), so a run of it is a clean "not found" until it is registered again.
    const namesOf = new Map<string, string[]>()
    const aliasTargets = new Map<string, string>()
    const aliasUnreadable = new Set<string>()
    const aliasGone = new Set<string>()
    for (const e of scan.names) {
      const name = e.rel.slice('names/'.length)
      if (e.type !== 'file' || e.size > 1024) continue
      const text = readWhole(e)
      if ('error' in text) {
        ;(text.gone ? aliasGone : aliasUnreadable).add(name)
        continue
      }
      const target = text.toString('utf8').trim()
      if (FULL_HASH.test(target)) {
        aliasTargets.set(name, target)
        namesOf.set(target, [...(namesOf.get(target) ?? []), name])
      }
    }
    for (const [hash, src] of sources) {
      if (src.ok || src.actual === undefined) continue // sound, or reported as unreadable
      const e = src.entry
      const was = recorded.get(hash)
      const detail =
        src.length === 0
          ? 'empty file'
          : was !== undefined && src.length < was
            ? `truncated: ${src.length} of ${was} bytes`
            : `content hashes to ${src.actual}${was !== undefined && src.length === was ? ' (same length: bytes changed)' : ': changed, or a file under a wrong name'}`
      const names = namesOf.get(hash) ?? []
      add({
        kind: 'source-mismatch',
        path: e.rel,
        hash,
        detail,
        action: `set aside (damaged/), remove its compiled forms${names.length ? ` and names (${names.join(', ')})` : ''}`,
        repair: async () => {
          const r = await removeScript(store, hash, {
            strict: true,
            waitMs: ITEM_WAIT_MS,
            setAsideSource: true,
            names,
            tags: [...scan.compiled.keys()],
            stillWanted: async () => (await unchanged(e)) && sha256(await readRegular(e.path)) !== hash,
          })
          return r.busy ? 'busy' : r.removed ? 'done' : 'changed'
        },
      })
    }

    // 4. Files where no file belongs (a wrong shard, a name that is not a hash, a directory).
    for (const e of scan.misplaced) {
      const inNames = e.rel.startsWith('names/')
      add({
        kind: inNames ? 'bad-alias' : 'misplaced',
        path: e.rel,
        detail:
          e.type === 'dir'
            ? 'a directory where a file belongs'
            : inNames
              ? 'not a plain alias file'
              : 'not at the place of its name (objects/<ab>/<sha256>, compiled/<tag>/<ab>/<sha256>, engines/<ab>/<sha256>)',
        action: 'set aside (damaged/)',
        repair: () => setAsideIfUnchanged(layout, e, inNames ? 'name' : 'misplaced'),
      })
    }

    // 5. Aliases.
    for (const e of scan.names) {
      const name = e.rel.slice('names/'.length)
      if (aliasGone.has(name)) continue
      checked.names++
      let bad: string | undefined
      try {
        checkName(name)
      } catch {
        bad = 'not a valid name'
      }
      const target = aliasTargets.get(name)
      if (!bad && e.type !== 'file') bad = 'not a plain file'
      if (!bad && !target && !(aliasUnreadable.has(name) && badMode.has(e.rel)))
        bad = aliasUnreadable.has(name) ? 'cannot be read' : 'does not hold a hash'
      if (bad) {
        add({
          kind: 'bad-alias',
          path: e.rel,
          detail: bad,
          action: 'set aside (damaged/)',
          repair: () => setAsideIfUnchanged(layout, e, 'name'),
        })
      } else if (target && !sources.has(target)) {
        add({
          kind: 'dangling-alias',
          path: e.rel,
          hash: target,
          detail: `points to ${target}, which is not in the store`,
          action: 'remove',
          repair: async () =>
            (await exists(layout.object(target))) ? 'changed' : (await removeAlias(layout, name, target)) ? 'done' : 'changed',
        })
      }
    }

    // 6. Locks, tmp and stats.
    const staleMs = lockStaleMs()
    for (const e of scan.files.pending) {
      if (lock && e.path === lock.path) continue // our own maintenance lock
      checked.locks++
      if (e.rel.endsWith('.lock')) {
        const why = await staleReason(e.path, staleMs)
        if (why)
          add({
            kind: 'stale-lock',
            path: e.rel,
            detail: why,
            action: 'break it',
            repair: async () => Boolean(await breakStaleLock(e.path, staleMs)) || !(await exists(e.path)),
          })
      } else if (Date.now() - e.mtimeMs > staleMs) {
        add({kind: 'stale-lock', path: e.rel, detail: 'leftover of a broken lock', action: 'remove', repair: () => removeIfUnchanged(e)})
      }
    }
    for (const e of scan.files.tmp) {
      checked.tmpFiles++
      const age = Date.now() - e.mtimeMs
      if (age > tmpAgeMs)
        add({
          kind: 'old-tmp',
          path: e.rel,
          detail: `left by a write that did not finish, ${fmtAge(age)} ago`,
          action: 'remove',
          repair: () => removeIfUnchanged(e),
        })
    }
    for (const e of scan.files.stats) {
      if (!/^stats\/(d-.*|totals)\.json$/.test(e.rel)) continue
      checked.statsFiles++
      const why = await checkStatsFile(e.path)
      if (why) {
        add({
          kind: 'stats-bad',
          path: e.rel,
          detail: why,
          action: 'set aside (damaged/); the counters it held are lost',
          repair: async () => {
            const l = await acquireLock(layout.lock('stats'), {waitMs: ITEM_WAIT_MS})
            if (!(l instanceof Lock)) return 'busy'
            try {
              return await setAsideIfUnchanged(layout, e, 'stats')
            } finally {
              await l.release()
            }
          },
        })
      }
    }

    // 7. store.json, judged last: it may only be rewritten over format-1 content.
    if (storeJson.problem) {
      const unknown = [...scan.files.other, ...scan.dirs.filter((d) => !d.rel.includes('/') && d.rel !== '.')]
        .map((e) => e.rel)
        .filter((r) => !KNOWN_TOP.has(r))
      const blockers = [...unknown, ...storeJson.foreignContent]
      add({
        kind: 'store-json',
        path: 'store.json',
        detail: storeJson.problem,
        action: blockers.length
          ? `none: not format-1 content (${blockers.slice(0, 3).join(', ')}); move it away or pass another --cache-dir`
          : `write {"format":${STORE_FORMAT}}`,
        repair: blockers.length
          ? undefined
          : () =>
              writeAtomic(layout.tmpDir, layout.storeJson, JSON.stringify({format: STORE_FORMAT}) + '\n', 'store-json').then(() => true),
      })
    }
    opts.onProgress?.(total, total)

    // Repairs, in an order where each one helps the next: permissions first, debris last.
    if (opts.fix) {
      const order: ProblemKind[] = [
        'permissions',
        'store-json',
        'misplaced',
        'unreadable',
        'source-mismatch',
        'compiled-bad',
        'engines-bad',
        'orphan-compiled',
        'orphan-engines',
        'foreign-compiled',
        'bad-alias',
        'dangling-alias',
        'stats-bad',
        'stale-lock',
        'old-tmp',
      ]
      found.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind))
      for (const p of found) {
        if (!p.repair) {
          p.fixed = false
          continue
        }
        const r = await p.repair().catch((error: Error) => {
          p.detail += `; repair failed: ${error.message}`
          return false
        })
        // 'changed': another process replaced or removed the file meanwhile; the problem is gone.
        p.fixed = r === true || r === 'done' || r === 'changed'
        if (r === 'busy') p.detail += '; in use by another process (its registry lock is held): not repaired, run again'
      }
    }

    const setAside = (() => {
      try {
        return readdirSync(layout.damagedDir).length
      } catch {
        return 0
      }
    })()
    const problems: Problem[] = found.map(({repair: _r, ...p}) => p)
    const remaining = problems.filter((p) => !p.fixed)
    return {
      store: layout.root,
      fix: Boolean(opts.fix),
      clean: remaining.length === 0,
      damage: remaining.filter((p) => p.severity === 'damage').length,
      problems,
      checked,
      setAside,
      ms: Date.now() - t0,
    }
  } finally {
    await lock?.release()
  }
}

/** store.json: refuses a newer format outright (nothing is touched); else the problem, if any. */
async function checkStoreJson(layout: Layout): Promise<{problem?: string; foreignContent: string[]}> {
  // Another user's cache dir, or one others can write to, is refused as by every command: what
  // it holds cannot be trusted, so there is nothing --fix could make right.
  if (!checkCacheDir(layout.root)) throw storeError(`${layout.root} does not exist; nothing to verify`)
  let text: string
  try {
    text = (await readRegular(layout.storeJson)).toString('utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') return {problem: `cannot read it: ${(error as Error).message}`, foreignContent: []}
    const entries = readdirSync(layout.root)
    if (entries.length === 0) return {foreignContent: []}
    if (!entries.includes('objects') && !entries.includes('CACHEDIR.TAG')) {
      throw storeError(`${layout.root} is not a burn store (no store.json, no objects/); check --cache-dir`)
    }
    return {problem: 'missing', foreignContent: []}
  }
  let format: unknown
  try {
    format = (JSON.parse(text) as {format?: unknown}).format
  } catch (error) {
    return {problem: `not valid JSON (${(error as Error).message})`, foreignContent: []}
  }
  if (typeof format !== 'number' || !Number.isInteger(format) || format < 1)
    return {problem: `no valid "format" (${JSON.stringify(format)})`, foreignContent: []}
  if (format > STORE_FORMAT) {
    throw storeError(
      `the store in ${layout.root} has format ${format}, newer than this burn supports (${STORE_FORMAT}); upgrade burn to verify it`,
      {format},
    )
  }
  return {foreignContent: []}
}

/** Reads a whole file with one open/fstat/read: the bytes verify checks, read exactly once. */
function readWhole(e: Entry): Buffer | {error: string; gone: boolean} {
  try {
    return readRegularSync(e.path)
  } catch (error) {
    return {error: `cannot read it: ${(error as Error).message}`, gone: (error as NodeJS.ErrnoException).code === 'ENOENT'}
  }
}

const fmtMode = (m: number) => `0${(m & 0o777).toString(8).padStart(3, '0')}`

function fmtAge(ms: number): string {
  const h = ms / 3_600_000
  return h >= 48 ? `${Math.round(h / 24)} days` : h >= 1 ? `${Math.round(h)} h` : `${Math.round(ms / 60_000)} min`
}
