import {chmod, lstat, mkdir, readFile, stat, writeFile} from 'node:fs/promises'
import {resolve} from 'node:path'
import {writeAtomic} from './atomic.js'
import {BurnError, storeError} from './errors.js'
import {Layout, STORE_FORMAT} from './layout.js'

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
 * "nothing registered" instead of creating directories as a side effect.
 */
export async function openStore(root: string, opts: {create: boolean}): Promise<Store | undefined> {
  const abs = resolve(root)
  const layout = new Layout(abs)
  const st = await stat(abs).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined
    throw storeError(`cannot open the cache directory ${abs}: ${e.message}`)
  })
  if (st && !st.isDirectory()) {
    throw storeError(`the cache directory ${abs} is not a directory; remove it or pass another --cache-dir`)
  }
  if (!st || !(await exists(layout.storeJson))) {
    if (!opts.create) {
      if (!st) return undefined
      // A directory without store.json: empty (fine, read as empty) or not ours (refuse).
    } else {
      await initStore(layout, !st)
      await checkDirs(layout)
      return {layout, root: abs}
    }
  }
  await checkFormat(layout)
  await checkDirs(layout)
  return {layout, root: abs}
}

/** The store's own directories must be real directories: a symlink would lead reads and writes out. */
async function checkDirs(layout: Layout): Promise<void> {
  for (const d of [layout.objectsDir, layout.compiledDir, layout.namesDir, layout.pendingDir, layout.statsDir, layout.tmpDir, layout.damagedDir, layout.enginesDir]) {
    const st = await lstat(d).catch(() => undefined)
    if (!st) continue
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw storeError(`${d} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; burn does not follow links out of its store: run \`burn verify --fix\` or remove it`)
    }
  }
}

async function initStore(layout: Layout, fresh: boolean): Promise<void> {
  try {
    await mkdir(layout.root, {recursive: true, mode: 0o700})
    if (fresh) await chmod(layout.root, 0o700)
    for (const d of [layout.objectsDir, layout.compiledDir, layout.namesDir, layout.pendingDir, layout.statsDir, layout.tmpDir, layout.damagedDir, layout.enginesDir]) {
      await mkdir(d, {recursive: true, mode: 0o700})
    }
    if (!(await exists(layout.cachedirTag))) await writeFile(layout.cachedirTag, CACHEDIR_TAG, {mode: 0o600})
    if (!(await exists(layout.storeJson))) {
      await writeAtomic(layout.tmpDir, layout.storeJson, JSON.stringify({format: STORE_FORMAT}) + '\n', 'store-json')
    }
  } catch (error) {
    if (error instanceof BurnError) throw error
    const e = error as NodeJS.ErrnoException
    throw storeError(`cannot create the store in ${layout.root}: ${e.message}; check permissions and free space, or pass another --cache-dir`, {errno: e.code})
  }
}

export async function readStoreFormat(layout: Layout): Promise<number | undefined> {
  let text: string
  try {
    text = await readFile(layout.storeJson, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const parsed = JSON.parse(text) as {format?: unknown}
  if (typeof parsed.format !== 'number' || !Number.isInteger(parsed.format)) throw new Error('store.json has no integer "format"')
  return parsed.format
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
    throw storeError(`the store in ${layout.root} has format ${format}, newer than this burn supports (${STORE_FORMAT}); upgrade burn or pass another --cache-dir`, {format})
  }
  if (format < 1) throw storeError(`store.json in ${layout.root} has an invalid format ${format}; run \`burn verify --fix\``)
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}
