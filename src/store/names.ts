import {link, lstat, mkdir, rename, rm} from 'node:fs/promises'
import {tmpName, writeAtomic} from './atomic.js'
import {storeError} from '../util/errors.js'
import {isValidHash, type Layout} from './layout.js'
import {notRegular, readRegular, readRegularSync} from '../util/read-regular.js'
import type {Entry} from './scan.js'

/*
 * Names (`names/<name>`): a file holding the full hash it points to and a newline. Written by
 * register (an atomic rename, no lock: the last register wins), read by every `<script>`
 * argument (resolve.ts), removed by forget and gc only while it still points where they judged.
 */

/** The hash a name file's text points to, or undefined when the text is not a name file's. */
export function nameTarget(text: string): string | undefined {
  const hash = text.trim()
  return isValidHash(hash) ? hash : undefined
}

/** The hash a name points to, or undefined when there is no such name; a damaged name is a store error (exit 8). */
export async function readName(layout: Layout, name: string): Promise<string | undefined> {
  let text: string
  try {
    text = (await readRegular(layout.name(name))).toString('utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    // a directory, a FIFO or a symbolic link: never followed, never waited on
    if (notRegular(error)) {
      throw storeError(`name ${name} in the store is damaged (${(error as Error).message}); run \`burn verify --fix\``, {name})
    }
    throw error
  }
  const hash = nameTarget(text)
  if (hash === undefined) throw storeError(`name ${name} in the store is damaged; run \`burn verify --fix\``, {name})
  return hash
}

/** Points `name` at `hash`, replacing what it pointed to (the caller checked the name). */
export async function writeName(layout: Layout, name: string, hash: string): Promise<void> {
  await writeAtomic(layout.tmpDir, layout.name(name), hash + '\n', 'name')
}

/** Every name of a store walk (scan.ts), each file read once: what gc and verify judge names by. */
export interface NameIndex {
  /** name -> the hash it holds. */
  targets: Map<string, string>
  /** hash -> its names, in walk order. */
  namesOf: Map<string, string[]>
  /** Names whose file could not be read, and those removed since the walk. */
  unreadable: Set<string>
  gone: Set<string>
}

/** A name file is a hash and a newline: anything much longer is not one, and is not read. */
const NAME_FILE_MAX = 1024

export const entryName = (e: Entry): string => e.rel.slice('names/'.length)

export function readNames(entries: Entry[]): NameIndex {
  const index: NameIndex = {targets: new Map(), namesOf: new Map(), unreadable: new Set(), gone: new Set()}
  for (const e of entries) {
    const name = entryName(e)
    if (e.type !== 'file' || e.size > NAME_FILE_MAX) continue
    let text: string
    try {
      text = readRegularSync(e.path).toString('utf8')
    } catch (error) {
      ;((error as NodeJS.ErrnoException).code === 'ENOENT' ? index.gone : index.unreadable).add(name)
      continue
    }
    const target = nameTarget(text)
    if (target === undefined) continue
    index.targets.set(name, target)
    index.namesOf.set(target, [...(index.namesOf.get(target) ?? []), name])
  }
  return index
}

/**
 * Removes names/<name> only if it still points to `hash`. A register may rewrite a name at any
 * moment (its write is an atomic rename, with no lock), so the file is first moved out of the
 * way (only one process can move a given file), then checked: if what was moved is a newer
 * name, it is linked back (link refuses to overwrite an even newer one). The same trick as
 * breaking a stale lock (lock.ts). Returns the sizes removed, or undefined when nothing was.
 */
export async function removeName(layout: Layout, name: string, hash: string): Promise<{size: number; diskBytes: number} | undefined> {
  const path = layout.name(name)
  const aside = tmpName(layout.tmpDir, 'name')
  try {
    await mkdir(layout.tmpDir, {recursive: true, mode: 0o700})
    await rename(path, aside)
  } catch {
    return undefined // already gone
  }
  const st = await lstat(aside).catch(() => undefined)
  if (!st?.isFile()) {
    // Not a name file at all (verify reports it): put it back untouched.
    await rename(aside, path).catch(() => {})
    return undefined
  }
  const text = (await readRegular(aside).catch(() => '')).toString()
  if (nameTarget(text) !== hash) {
    await link(aside, path).catch(() => {})
    await rm(aside, {force: true})
    return undefined
  }
  await rm(aside, {force: true})
  return {size: st.size, diskBytes: st.blocks * 512}
}
