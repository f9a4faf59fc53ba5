import {link, lstat, mkdir, rename, rm} from 'node:fs/promises'
import {tmpName} from './atomic.js'
import {FULL_HASH, type Layout} from './layout.js'
import {readRegular, readRegularSync} from '../util/read-regular.js'
import type {Entry} from './scan.js'

/** The hash a name file's text holds (one hash, blanks around it allowed); undefined when it holds none. */
export function nameTarget(text: string): string | undefined {
  const hash = text.trim()
  return FULL_HASH.test(hash) ? hash : undefined
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
 * alias, it is linked back (link refuses to overwrite an even newer one). The same trick as
 * breaking a stale lock (lock.ts). Returns the sizes removed, or undefined when nothing was.
 */
export async function removeAlias(layout: Layout, name: string, hash: string): Promise<{size: number; diskBytes: number} | undefined> {
  const path = layout.name(name)
  const aside = tmpName(layout.tmpDir, 'alias')
  try {
    await mkdir(layout.tmpDir, {recursive: true, mode: 0o700})
    await rename(path, aside)
  } catch {
    return undefined // already gone
  }
  const st = await lstat(aside).catch(() => undefined)
  if (!st?.isFile()) {
    // Not an alias file at all (verify reports it): put it back untouched.
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
