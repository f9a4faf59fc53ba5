import {lstat, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {FULL_HASH} from '../store/layout.js'
import {readRegular} from '../util/read-regular.js'
import {nameTarget} from '../store/names.js'
import {readStats} from '../store/stats/stats.js'
import {resolveScript} from '../store/resolve.js'
import {checkScriptDirs, type Store} from '../store/store.js'
import type {EngineName} from '../engines/tag.js'
import {inferEngines, readRecord} from '../store/engine-trust.js'

export interface ScriptInfo {
  hash: string
  names: string[]
  bytes: number
  /** The engines it is registered for (trust.ts); [] when its record is damaged (`burn verify` says). */
  engines: EngineName[]
  /** The engine tags it has a compiled form for. */
  compiled: string[]
  registered: string
  lastUsed: string | null
}

/** Every file of a two-level sharded directory (objects/ab/<hash>, compiled/<tag>/ab/<hash>). */
export async function listSharded(dir: string): Promise<Array<{hash: string; path: string}>> {
  const out: Array<{hash: string; path: string}> = []
  for (const shard of await subdirs(dir)) {
    const files = await readdir(join(dir, shard)).catch(() => [] as string[])
    for (const f of files.sort()) out.push({hash: f, path: join(dir, shard, f)})
  }
  return out
}

export async function listTags(store: Store): Promise<string[]> {
  return subdirs(store.layout.compiledDir)
}

/** The directories in `dir`, sorted; a symlink is left out, never followed into another directory. */
async function subdirs(dir: string): Promise<string[]> {
  return (await readdir(dir, {withFileTypes: true}).catch(() => []))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
}

/** name -> hash for every readable alias. */
export async function readNames(store: Store): Promise<Map<string, string>> {
  const map = new Map<string, string>()
  for (const n of (await readdir(store.layout.namesDir).catch(() => [] as string[])).sort()) {
    const target = nameTarget((await readRegular(join(store.layout.namesDir, n)).catch(() => '')).toString())
    if (target !== undefined) map.set(n, target)
  }
  return map
}

export async function listScripts(store: Store, only?: string[]): Promise<ScriptInfo[]> {
  const [objects, names, tags, stats] = await Promise.all([
    listSharded(store.layout.objectsDir),
    readNames(store),
    listTags(store),
    readStats(store.layout),
  ])
  const byHash = new Map<string, string[]>()
  for (const [n, h] of names) byHash.set(h, [...(byHash.get(h) ?? []), n])
  const compiled = new Map<string, string[]>()
  for (const tag of tags) {
    for (const {hash} of await listSharded(join(store.layout.compiledDir, tag))) compiled.set(hash, [...(compiled.get(hash) ?? []), tag])
  }
  const wanted = only ? new Set(only) : undefined
  const out: ScriptInfo[] = []
  for (const {hash, path} of objects) {
    if (!FULL_HASH.test(hash) || (wanted && !wanted.has(hash))) continue
    const st = await lstat(path).catch(() => undefined) // a symlink is no script (verify reports it)
    if (!st?.isFile()) continue
    const used = stats.used[hash]
    const tagsOf = compiled.get(hash) ?? []
    const record = await readRecord(store.layout, hash).catch(() => [] as EngineName[])
    out.push({
      hash,
      names: byHash.get(hash) ?? [],
      bytes: st.size,
      engines: record ?? inferEngines(tagsOf),
      compiled: tagsOf,
      registered: st.mtime.toISOString(),
      lastUsed: used ? new Date(used).toISOString() : null,
    })
  }
  return out
}

/** `burn show` (and the API's show): one script's catalog entry, if it has one, and its source. */
export async function showScript(
  store: Store | undefined,
  ref: string,
): Promise<{info: ScriptInfo | undefined; hash: string; source: string}> {
  const hash = await resolveScript(store, ref)
  checkScriptDirs(store!.layout, hash, [])
  const [info] = await listScripts(store!, [hash])
  const source = (await readRegular(store!.layout.object(hash))).toString('utf8')
  return {info, hash, source}
}
