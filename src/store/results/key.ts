import type {Limits} from '../../engines/protocol.js'
import {engineTag, type EngineName} from '../../engines/tag.js'
import {sha256} from '../../util/hash.js'

/**
 * The time a quickjs call reads under --memo (Date.now(), new Date()): 2000-01-01T00:00:00Z.
 * Fixed, so a stored result is what any later call computes (README, "Memoized results").
 */
export const MEMO_CLOCK_MS = 946_684_800_000

/** What a memoized result is a function of. */
export interface MemoTarget {
  /** the script's source hash */
  hash: string
  engine: EngineName
  /** the input JSON text as the call read it */
  input: string
  limits: Limits
  /** The engine's tag when the caller has it already (a recorded v8 tag: store/v8-tag-record.ts); else computed. */
  tag?: string
}

/**
 * The bytes an input is keyed by: JSON.parse then JSON.stringify, so whitespace and the
 * spelling of numbers and escapes do not matter while key order (which a script can see) does.
 * Undefined when that would merge inputs a script can tell apart (-0, a number past the double
 * range that parses to Infinity) or when it is not JSON (the run fails with exit 7 anyway):
 * such an input is keyed by its exact bytes.
 */
export function canonicalInput(text: string): string | undefined {
  let lossy = false
  let value: unknown
  try {
    value = JSON.parse(text, (_k, v: unknown) => {
      if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) lossy = true
      return v
    })
  } catch {
    return undefined
  }
  return lossy ? undefined : JSON.stringify(value)
}

/**
 * The memo key: sha256 over the key format's version, the script, the engine's tag (its
 * version included), the limits that can change a successful result (--fuel, quickjs only:
 * v8 refuses it) and the canonical input. --timeout and --memory only decide whether a call
 * succeeds, --max-output is checked again on every hit (memo.ts).
 */
export function memoKey(t: MemoTarget): string {
  return digest(keyPrefix('burn-memo-1', t), t.input)
}

/**
 * What an idempotency key's record is checked against: the script and the canonical input,
 * and nothing of the engine or its version, so the recorded result still answers a repeat
 * after a Node or QuickJS upgrade (which changes every memo key) or on the other engine.
 */
export function inputDigest(t: MemoTarget): string {
  return digest(`burn-input-1\0${t.hash}\0`, t.input)
}

function digest(head: string, input: string): string {
  const canonical = canonicalInput(input)
  return sha256(head, canonical === undefined ? `raw\0${input}` : `json\0${canonical}`)
}

/**
 * What the rows of `batch --memo` are stored under (store/results/rows.ts): the script, engine
 * and limits of memoKey, in a namespace of their own (a row's result is the element the script
 * returned for it inside a chunk, not what `run` returns for that row). The row itself is
 * matched by its exact bytes inside the pack, not digested: see rows.ts.
 */
export function rowsScope(t: Omit<MemoTarget, 'input'>): string {
  return sha256(keyPrefix('burn-memo-rows-1', t))
}

function keyPrefix(version: string, t: Omit<MemoTarget, 'input'>): string {
  const fuel = t.engine === 'quickjs' && t.limits.fuel !== undefined ? String(t.limits.fuel) : ''
  return `${version}\0${t.hash}\0${t.tag ?? engineTag(t.engine)}\0${fuel}\0`
}
