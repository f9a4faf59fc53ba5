import {rm} from 'node:fs/promises'
import {join} from 'node:path'
import {listTags, readNames} from './catalog.js'
import {lockKey} from './compiled.js'
import {BurnError} from './errors.js'
import {acquireLock, Lock} from './lock.js'
import {engineTag, ENGINES} from './engines/tag.js'
import {resolveScript} from './resolve.js'
import type {Store} from './store.js'

export interface ForgetOutcome {
  ref: string
  hash: string | null
  removed: boolean
  names: string[]
}

/**
 * Removes a script's source, every compiled form and every name pointing at it. Idempotent:
 * a reference that matches nothing is reported as already gone, exit 0. It takes the registry
 * lock of every (hash, engine tag) first, so it never races a register publishing that key.
 */
export async function forgetScript(store: Store | undefined, ref: string): Promise<ForgetOutcome> {
  let hash: string
  try {
    hash = await resolveScript(store, ref)
  } catch (error) {
    if (error instanceof BurnError && error.kind === 'notFound' && !error.data.candidates) return {ref, hash: null, removed: false, names: []}
    throw error
  }
  return forgetHash(store!, hash, ref)
}

export async function forgetHash(store: Store, hash: string, ref = hash): Promise<ForgetOutcome> {
  const {layout} = store
  const tags = [...new Set([...(await listTags(store)), ...ENGINES.map((e) => engineTag(e))])]
  const locks: Lock[] = []
  try {
    for (const tag of tags) {
      const l = await acquireLock(layout.lock(lockKey(hash, tag)))
      if (l instanceof Lock) locks.push(l)
    }
    const names = [...(await readNames(store))].filter(([, h]) => h === hash).map(([n]) => n)
    for (const n of names) await rm(layout.name(n), {force: true})
    for (const tag of tags) await rm(join(layout.compiledTagDir(tag), hash.slice(0, 2), hash), {force: true, recursive: true})
    await rm(layout.object(hash), {force: true, recursive: true})
    return {ref, hash, removed: true, names}
  } finally {
    for (const l of locks) await l.release()
  }
}
