import {hostname} from 'node:os'
import {readRegularSync} from '../util/read-regular.js'
import {writeAtomic} from './atomic.js'
import type {Layout} from './layout.js'

/*
 * The v8 engine tag (engines/tag.ts) of this Node binary with these flags on this host, as a
 * `burn run --memo` recorded it: computing it loads node:v8 and with it Node's streams stack,
 * ~4 ms of a memo hit that is ~20 ms over Node's own start. The record is only a hint for the
 * memo key (run/memo.ts answerFromMemo):
 * - its fingerprint is everything a process can change the tag by (the binary, its version and
 *   architecture, execArgv, NODE_OPTIONS) and the host, and the tag must spell this Node's
 *   version and architecture;
 * - what the tag folds in beyond that is the CPU's features (a host whose CPU changed under its
 *   name, or containers with one hostname on different CPUs sharing a store). Then a hit may
 *   print a result stored under the recorded tag: computed by the same Node version with the same
 *   flags on another CPU, which V8 runs with the same semantics. The first miss checks the real
 *   tag, records it and looks again.
 * A bad or missing record is no record. It lives at the store's root (v8-tag.json, at most
 * MAX_ENTRIES fingerprints), private like the rest of the store.
 */
const MAX_ENTRIES = 16
/** A record is a few hundred bytes; anything much larger is not one (and is replaced by the next write). */
const MAX_BYTES = 64 * 1024

function fingerprint(): string {
  return JSON.stringify([process.execPath, process.version, process.arch, process.execArgv, process.env.NODE_OPTIONS ?? '', hostname()])
}

function readRecord(layout: Layout): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(readRegularSync(layout.v8TagRecord, {maxBytes: MAX_BYTES}).toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/** The recorded tag for this process, or undefined. */
export function recordedV8Tag(layout: Layout): string | undefined {
  const tag = readRecord(layout)[fingerprint()]
  const prefix = `v8-node${process.versions.node}-${process.arch}-`
  return typeof tag === 'string' && tag.startsWith(prefix) && /^[0-9a-f]{1,8}$/.test(tag.slice(prefix.length)) ? tag : undefined
}

/** Records `tag` (the real one, just computed) for this process; a failed write only costs the next hit its ~4 ms. */
export async function recordV8Tag(layout: Layout, tag: string): Promise<void> {
  const all = readRecord(layout)
  const key = fingerprint()
  if (all[key] === tag) return
  delete all[key]
  const entries = [...Object.entries(all).slice(-(MAX_ENTRIES - 1)), [key, tag]]
  // (not fsynced: a hint, which a crash may lose; a hit must not pay two fsyncs for it)
  await writeAtomic(layout.tmpDir, layout.v8TagRecord, JSON.stringify(Object.fromEntries(entries)) + '\n', 'v8-tag', false).catch(() => {})
}
