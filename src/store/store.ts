import {statSync} from 'node:fs'
import {chmod, mkdir, writeFile} from 'node:fs/promises'
import {resolve} from 'node:path'
import {writeAtomic} from './atomic.js'
import {BurnError, storeError} from '../util/errors.js'
import {Layout, STORE_FORMAT} from './layout.js'
import {readRegular} from '../util/read-regular.js'
import {checkParents, checkStoreDir} from './store-trust.js'

const CACHEDIR_TAG = `Signature: 8a477f597d28d172789f06886806bc55
# This file is a cache directory tag created by burn.
# For information about cache directory tags see https://bford.info/cachedir/
`

export interface Store {
  layout: Layout
  root: string
}

/**
 * Opens the store at `root`. With create, a missing store is made private to the user (0700).
 * Without it, a missing store is reported as `missing` so read-only commands can say
 * "nothing registered" instead of creating directories as a side effect. Every store directory
 * is checked first (store-trust.ts): one another user owns or can write to is refused with exit 8.
 */
export async function openStore(root: string, opts: {create: boolean}): Promise<Store | undefined> {
  const abs = resolve(root)
  const layout = new Layout(abs)
  const st = checkCacheDir(abs)
  if (!st || !(await exists(layout.storeJson))) {
    if (!opts.create) {
      if (!st) return undefined
      // A directory without store.json: empty (fine, read as empty) or not ours (refuse).
    } else {
      await initStore(layout, !st)
      checkDirs(layout)
      return {layout, root: abs}
    }
  }
  checkDirs(layout)
  await checkFormat(layout)
  return {layout, root: abs}
}

/** The cache directory itself (store-trust.ts); false when it does not exist yet. */
export function checkCacheDir(abs: string): boolean {
  try {
    return checkStoreDir(abs)
  } catch (error) {
    if (error instanceof BurnError) throw new BurnError('store', `the cache directory ${error.message}`, error.data)
    throw error
  }
}

/**
 * The store's own directories (the run daemons' daemon/ included), checked like the cache dir:
 * a symlink would lead reads and writes out, another user's or a writable one lets others plant
 * what you run. About ten lstat calls: a few microseconds each.
 */
function checkDirs(layout: Layout): void {
  for (const d of [...layout.storeDirs, layout.daemonDir]) checkStoreDir(d)
}

/**
 * The shard and engine-tag directories a script's files are reached through, checked before
 * they are read or removed (objects/<ab>, compiled/<tag>/<ab>): too many to check at open.
 */
export function checkScriptDirs(layout: Layout, hash: string, tags: string[]): void {
  checkParents(layout.object(hash), 1)
  for (const tag of tags) checkParents(layout.compiled(tag, hash), 2)
}

async function initStore(layout: Layout, fresh: boolean): Promise<void> {
  try {
    await mkdir(layout.root, {recursive: true, mode: 0o700})
    if (fresh) await chmod(layout.root, 0o700)
    // store.json before any store directory: a kill -9 in between leaves a store a plain open
    // reads as empty (checkFormat refuses content without store.json), never one that needs
    // `burn verify --fix` (the remote torture killed a first `burn run` there once)
    await mkdir(layout.tmpDir, {recursive: true, mode: 0o700})
    if (!(await exists(layout.storeJson))) {
      await writeAtomic(layout.tmpDir, layout.storeJson, JSON.stringify({format: STORE_FORMAT}) + '\n', 'store-json')
    }
    for (const d of layout.storeDirs) await mkdir(d, {recursive: true, mode: 0o700})
    if (!(await exists(layout.cachedirTag))) await writeFile(layout.cachedirTag, CACHEDIR_TAG, {mode: 0o600})
  } catch (error) {
    if (error instanceof BurnError) throw error
    const e = error as NodeJS.ErrnoException
    throw storeError(
      `cannot create the store in ${layout.root}: ${e.message}; check permissions and free space, or pass another --cache-dir`,
      {errno: e.code},
    )
  }
}

/**
 * store.json as written, for `openStore` and `verify` alike: undefined when there is none, the
 * "format" it holds (unchecked: each caller judges it), or the error reading or parsing it gave.
 */
export async function readStoreJson(layout: Layout): Promise<{format: unknown} | {error: Error; parsing: boolean} | undefined> {
  let text: string
  try {
    text = (await readRegular(layout.storeJson)).toString('utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    return {error: error as Error, parsing: false}
  }
  try {
    return {format: (JSON.parse(text) as {format?: unknown}).format}
  } catch (error) {
    return {error: error as Error, parsing: true}
  }
}

export async function readStoreFormat(layout: Layout): Promise<number | undefined> {
  const json = await readStoreJson(layout)
  if (json === undefined) return undefined
  if ('error' in json) throw json.error
  if (typeof json.format !== 'number' || !Number.isInteger(json.format)) throw new Error('store.json has no integer "format"')
  return json.format
}

async function checkFormat(layout: Layout): Promise<void> {
  let format: number | undefined
  try {
    format = await readStoreFormat(layout)
  } catch (error) {
    throw storeError(`store.json in ${layout.root} is damaged (${(error as Error).message}); run \`burn verify --fix\``)
  }
  if (format === undefined) {
    // A directory with no store.json is only accepted when it is empty of store content.
    if (await exists(layout.objectsDir)) throw storeError(`store.json is missing in ${layout.root}; run \`burn verify --fix\``)
    return
  }
  if (format > STORE_FORMAT) {
    throw storeError(
      `the store in ${layout.root} has format ${format}, newer than this burn supports (${STORE_FORMAT}); ` +
        'upgrade burn or pass another --cache-dir',
      {format},
    )
  }
  if (format < 1) throw storeError(`store.json in ${layout.root} has an invalid format ${format}; run \`burn verify --fix\``)
}

/**
 * Whether `path` exists (following links, as stat does). Synchronous inside, as readRegular is
 * (read-regular.ts): one stat of an entry in the page cache is cheaper than a trip through the
 * thread pool.
 */
export async function exists(path: string): Promise<boolean> {
  try {
    return statSync(path, {throwIfNoEntry: false}) !== undefined
  } catch {
    return false
  }
}
