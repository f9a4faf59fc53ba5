import {readdir, rm} from 'node:fs/promises'
import {writeAtomic} from './atomic.js'
import {readRegularSync} from '../util/read-regular.js'
import {checkParents} from './store-trust.js'
import {storeError, usageError} from '../util/errors.js'
import {ENGINES, type EngineName} from '../engines/tag.js'
import {isValidTag, type Layout} from './layout.js'
import {withLock} from './lock.js'
import {resolveScript} from './resolve.js'
import {exists, type Store} from './store.js'

/*
 * Trust is decided at register time, not per call: `engines/<ab>/<sha256>` holds the engines a
 * source was registered for, as a JSON list (`["quickjs"]`, `["quickjs","v8"]`). v8 (node:vm)
 * is no sandbox, so a script registered only for quickjs never runs on v8: only an explicit
 * `burn register --engine v8` of it (a trust decision) adds v8. Runs without --engine use the
 * registered engine, the sandbox when both are there. --engine quickjs is allowed on any script
 * and writes no record: more sandbox is never less safe, and a run changes no trust.
 *
 * Stores written by an earlier burn have no records (same store format 1): a script without one
 * gets the engines its compiled forms show (inferEngines).
 */

/** A record is a short list; anything longer is not one. */
const RECORD_MAX_BYTES = 256

/** The engines in a record's text, or why the text is not a record (verify reports it). */
export function parseRecord(text: string): EngineName[] | string {
  if (text.length > RECORD_MAX_BYTES) return `longer than ${RECORD_MAX_BYTES} bytes`
  let list: unknown
  try {
    list = JSON.parse(text)
  } catch {
    return 'not JSON'
  }
  if (!Array.isArray(list) || list.length === 0) return 'not a non-empty JSON list'
  const unknown = list.filter((e) => !ENGINES.includes(e as EngineName))
  if (unknown.length > 0) return `names no engine burn knows: ${JSON.stringify(unknown[0])}`
  if (new Set(list).size !== list.length) return 'names an engine twice'
  return list as EngineName[]
}

/** The record of a script, undefined when it has none; a damaged one is a store problem (exit 8). */
export async function readRecord(layout: Layout, hash: string): Promise<EngineName[] | undefined> {
  let text: string
  try {
    // engines/<ab> is checked like a shard; the record itself is never a FIFO or a followed link.
    checkParents(layout.engines(hash), 1)
    text = readRegularSync(layout.engines(hash), {maxBytes: RECORD_MAX_BYTES}).toString('utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw storeError(`the engines record of script ${hash} cannot be read (${(error as Error).message}); run \`burn verify --fix\``, {hash})
  }
  const parsed = parseRecord(text)
  if (typeof parsed === 'string')
    throw storeError(`the engines record of script ${hash} is damaged (${parsed}); run \`burn verify --fix\``, {hash})
  return parsed
}

/**
 * What `verify --fix` puts in place of a damaged record: the sandbox only. A record says what
 * you trusted; once it is unreadable, nothing in the store can say it again (the compiled forms
 * that legacy inference reads may be gone as well), so the fix fails safe and a v8 script asks
 * for `burn register --engine v8` once more.
 */
export async function resetRecordToSandbox(layout: Layout, hash: string): Promise<void> {
  await writeAtomic(layout.tmpDir, layout.engines(hash), JSON.stringify(['quickjs']) + '\n', 'engines')
}

/** The engine whose compiled forms carry this tag (`v8-node…`, `quickjs-…`). */
export function tagEngine(tag: string): EngineName | undefined {
  return ENGINES.find((e) => tag.startsWith(`${e}-`))
}

/**
 * A script without a record (registered by an earlier burn): a quickjs validation marker and no
 * v8 code cache of any node version says it was registered for quickjs only; anything else is
 * v8, the earlier default.
 */
export function inferEngines(tags: Iterable<string>): EngineName[] {
  const engines = new Set([...tags].map(tagEngine))
  return engines.has('quickjs') && !engines.has('v8') ? ['quickjs'] : ['v8']
}

/** The engines a stored script is registered for: its record, or inferred for an earlier burn's script. */
export async function registeredEngines(layout: Layout, hash: string): Promise<EngineName[]> {
  return (await readRecord(layout, hash)) ?? inferEngines(await compiledTags(layout, hash))
}

/** The engine tags with a compiled form of `hash` (a legacy script's only evidence). */
async function compiledTags(layout: Layout, hash: string): Promise<string[]> {
  const tags = await readdir(layout.compiledDir).catch(() => [] as string[])
  // (a directory that is not a tag burn makes is skipped here; verify reports it)
  const found = await Promise.all(tags.filter(isValidTag).map(async (tag) => ((await exists(layout.compiled(tag, hash))) ? [tag] : [])))
  return found.flat()
}

/** The engine a call without --engine uses: the sandbox whenever the script is registered for it. */
export const preferredEngine = (engines: EngineName[]): EngineName => (engines.includes('quickjs') ? 'quickjs' : 'v8')

/**
 * `<script>` and --engine (undefined: not given) -> the script and the engine it runs on, for
 * `burn run` and `burn batch` on every path. v8 for a script registered only for quickjs is
 * refused (exit 2), whoever asks.
 */
export async function runTarget(
  store: Store | undefined,
  ref: string,
  requested?: EngineName,
): Promise<{hash: string; engine: EngineName}> {
  const hash = await resolveScript(store, ref)
  const engines = await registeredEngines(store!.layout, hash)
  if (requested === undefined) return {hash, engine: preferredEngine(engines)}
  if (requested === 'v8' && !engines.includes('v8')) {
    const script = ref === hash ? hash : `${ref} (${hash})`
    throw usageError(
      `script ${script} is registered for the quickjs sandbox only, so it does not run on v8; ` +
        'if you trust its code, register it again with --engine v8 (`burn register <file> --engine v8`), or run it without --engine',
      {hash, engines},
    )
  }
  return {hash, engine: requested}
}

/**
 * The engine `burn register` compiles for: the one asked; without --engine, for a source
 * already stored, the one a plain run would use (a script registered only for quickjs stays
 * quickjs-only), else v8, the default for a new script.
 */
export async function registerEngine(layout: Layout, hash: string, requested?: EngineName): Promise<EngineName> {
  if (requested !== undefined) return requested
  return (await exists(layout.object(hash))) ? preferredEngine(await registeredEngines(layout, hash)) : 'v8'
}

/**
 * Adds `engine` to the script's record (a union: registering for one engine never takes another
 * away) and then runs `writeSource`, both under the record's lock, so two registers of one new
 * source for two engines both end up in it. Called with the script's registry lock held (which
 * forget and gc take for every engine), before the source is written: a script is never in the
 * store without its record (a crash leaves at worst a record without source, which gc removes).
 * A record found without its source is such debris and is replaced, not merged. Returns the
 * engines recorded.
 */
export async function recordEngine(
  layout: Layout,
  hash: string,
  engine: EngineName,
  writeSource?: () => Promise<void>,
): Promise<EngineName[]> {
  const sourceThere = await exists(layout.object(hash))
  if (sourceThere && !writeSource) {
    const recorded = await readRecord(layout, hash)
    if (recorded?.includes(engine)) return recorded
  }
  return withLock(layout.lock(`${hash}.engines`), {}, async () => {
    const before = (await exists(layout.object(hash))) ? await registeredEngines(layout, hash) : []
    const after = ENGINES.filter((e) => e === engine || before.includes(e))
    const recorded = await readRecord(layout, hash).catch(() => undefined)
    if (recorded?.join() !== after.join()) await writeAtomic(layout.tmpDir, layout.engines(hash), JSON.stringify(after) + '\n', 'engines')
    try {
      await writeSource?.()
    } catch (error) {
      // A source write that failed (a full disk) leaves no record of a source that is not there.
      if (!(await exists(layout.object(hash)))) await rm(layout.engines(hash), {force: true}).catch(() => {})
      throw error
    }
    return after
  })
}
