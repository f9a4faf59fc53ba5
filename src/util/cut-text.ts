/*
 * Text a script controls (its error message and stack) cut to the limit of where it is
 * written, with a note of how much was cut. The note counts characters (UTF-16 units, a JS
 * string's length): the quickjs sandbox cuts a string before it leaves the guest, where its
 * UTF-8 size is unknown, and a later cut adds up the notes of earlier ones it removes.
 */
const NOTES = /\.\.\. \[(\d+) characters cut\]/g
/** Self-contained: the quickjs prelude runs its source to cut strings inside the sandbox. */
export const cutNote = (n: number) => `... [${n} characters cut]`
/** Under this many bytes a cut keeps only the note (which then passes the limit). */
const NOTE_ROOM = cutNote(Number.MAX_SAFE_INTEGER).length

/**
 * The bytes error text may take under an output's limit: the limit, but never under 512 bytes,
 * so that burn's own words (a limit's message, a path) stay whole under a tiny --max-log.
 */
export const errorTextLimit = (maxBytes: number) => Math.max(maxBytes, 512)

/** `text` in at most `maxBytes` UTF-8 bytes, the note included; unchanged if it fits. */
export function cutText(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text
  // A prefix of maxBytes characters holds at least the bytes that can be kept.
  const head = Buffer.from(text.slice(0, Math.max(0, maxBytes)))
  let keep = Math.min(head.length, Math.max(0, maxBytes - NOTE_ROOM))
  // back to the start of a UTF-8 character
  while (keep > 0 && (head[keep] & 0xc0) === 0x80) keep--
  const kept = head.subarray(0, keep).toString()
  // The notes of earlier cuts in what goes are added up, not counted as characters.
  let cut = text.length - kept.length
  for (const m of text.slice(kept.length).matchAll(NOTES)) cut += Number(m[1]) - m[0].length
  return kept + cutNote(cut)
}

/**
 * The value's JSON text in at most `maxBytes` bytes if its strings can be cut that far: every
 * string longer than one common size is cut to it, the largest size that fits (a binary search;
 * JSON escapes make the text longer than the strings' bytes, so the size is measured, not computed).
 */
export function cutJson(value: unknown, maxBytes: number): string {
  const fits = (json: string) => Buffer.byteLength(json) <= maxBytes
  const whole = JSON.stringify(value)
  if (fits(whole)) return whole
  const at = (size: number) => JSON.stringify(mapStrings(value, (s) => cutText(s, size)))
  let lo = NOTE_ROOM
  let hi = collectStrings(value).reduce((n, s) => Math.max(n, Buffer.byteLength(s)), lo)
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (fits(at(mid))) lo = mid
    else hi = mid - 1
  }
  return at(lo)
}

function collectStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v)
  else if (v && typeof v === 'object') for (const e of Object.values(v)) collectStrings(e, out)
  return out
}

function mapStrings(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === 'string') return f(v)
  if (Array.isArray(v)) return v.map((e) => mapStrings(e, f))
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, mapStrings(e, f)]))
  return v
}
