import {mkdir, rename} from 'node:fs/promises'
import {basename, join} from 'node:path'
import type {Layout} from './layout.js'
import {randomHex} from './atomic.js'

/**
 * Moves a file that failed a check out of the way (to damaged/), so it is never read again as
 * a cache entry; `verify` reports and `gc` removes what is there. Best effort: if the file is
 * already gone (another process set it aside or replaced it), there is nothing to do.
 */
export async function setAside(layout: Layout, path: string, kind: string): Promise<string | undefined> {
  const dest = join(layout.damagedDir, `${kind}.${basename(path)}.${Date.now()}.${process.pid}.${randomHex(4)}`)
  try {
    await mkdir(layout.damagedDir, {recursive: true, mode: 0o700})
    await rename(path, dest)
    return dest
  } catch {
    return undefined
  }
}
