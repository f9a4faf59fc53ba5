import {lstat} from 'node:fs/promises'
import {writeAtomic} from './atomic.js'
import {decodeArtifact, encodeArtifact, type Decoded} from '../engines/artifact.js'
import {setAside} from './damaged.js'
import {loadXxh64} from '../util/hash.js'
import type {Layout} from './layout.js'
import {withLock} from './lock.js'
import {notRegular, readRegular} from '../util/read-regular.js'
import {checkScriptDirs} from './store.js'

export type CompiledState = {state: 'valid'; decoded: Extract<Decoded, {ok: true}>} | {state: 'missing'} | {state: 'bad'; reason: string}

/** Reads and fully checks a compiled form; a bad one is set aside so it is never read again. */
export async function checkCompiled(layout: Layout, tag: string, hash: string): Promise<CompiledState> {
  const path = layout.compiled(tag, hash)
  checkScriptDirs(layout, hash, [tag])
  let buf: Buffer
  try {
    buf = await readRegular(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {state: 'missing'}
    // a directory, a FIFO or a symbolic link in its place: a miss, set aside, compiled again
    if (notRegular(error)) {
      await setAside(layout, path, 'compiled')
      return {state: 'bad', reason: (error as Error).message}
    }
    throw error
  }
  const decoded = decodeArtifact(buf, {tag, sourceHash: hash}, await loadXxh64())
  if (decoded.ok) {
    // The source must be there and of the size the artifact was made from.
    const st = await lstat(layout.object(hash)).catch(() => undefined)
    if (st?.isFile() && st.size === decoded.meta.sourceLength) return {state: 'valid', decoded}
    return {state: 'bad', reason: st ? 'source size differs' : 'source missing'}
  }
  await setAside(layout, path, 'compiled')
  return {state: 'bad', reason: decoded.reason}
}

export async function publishCompiled(
  layout: Layout,
  tag: string,
  hash: string,
  source: Uint8Array,
  payload: Uint8Array,
  warm = false,
): Promise<void> {
  const xxh = await loadXxh64()
  const artifact = encodeArtifact({tag, sourceHash: hash, sourceXxh: xxh(source), sourceLength: source.length, warm}, payload, xxh)
  await writeAtomic(layout.tmpDir, layout.compiled(tag, hash), artifact, 'compiled')
}

/**
 * Republish after a run miss, only if nobody holds the registry lock for this key right now
 * (a register, forget or gc is at work on it) and the source is still there: a lost race
 * costs a later miss, never an orphan or a wrong hit.
 */
export async function republishCompiled(
  layout: Layout,
  tag: string,
  hash: string,
  sourcePath: string,
  payload: Uint8Array,
): Promise<boolean> {
  return withLock(layout.lock(lockKey(hash, tag)), {waitMs: 0, busy: () => false}, async () => {
    const source = await readRegular(sourcePath).catch(() => undefined)
    if (!source) return false
    // a run's cache is made after the call: warm
    await publishCompiled(layout, tag, hash, source, payload, true)
    return true
  })
}

export const lockKey = (hash: string, tag: string) => `${hash}.${tag}`
