import {link, lstat, mkdir, rename, rm} from 'node:fs/promises'
import {tmpName} from './atomic.js'
import type {Layout} from './layout.js'
import {readRegular} from '../util/read-regular.js'

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
  if (text.trim() !== hash) {
    await link(aside, path).catch(() => {})
    await rm(aside, {force: true})
    return undefined
  }
  await rm(aside, {force: true})
  return {size: st.size, diskBytes: st.blocks * 512}
}
