import bytes from 'bytes'
import ms from 'ms'
import {usageError} from './errors.js'

// Human sizes and durations. The arithmetic is done by well-kept libraries, `bytes` (sizes are
// binary, as in that library: 1MB = 1MiB = 1,048,576 bytes; an "i" spelling is accepted too)
// and `ms` (500ms, 5s, 12h, 30d, 2w). Both are lenient on their own (`bytes.parse('5MB/s')` is 5,
// `bytes.parse('10 apples')` is 10), so the whole value must first match a strict grammar here:
// a number, optional spaces, an optional known unit, and nothing else. Nonsense, zero, negative
// and unsafe values are usage errors (exit 2).
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|pb|kib|mib|gib|tib|pib)?$/i
const DURATION = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i

export function parseSize(value: string, flag: string): number {
  const m = SIZE.exec(value.trim())
  const bad = (why: string) => usageError(`invalid ${flag} ${JSON.stringify(value)}: ${why}`)
  if (!m) throw bad('expected a positive size such as 64MiB, 500MB, 2GiB or 1048576')
  const unit = (m[2] ?? 'b').toLowerCase().replace(/ib$/, 'b')
  const n = unit === 'b' ? Number(m[1]) : bytes.parse(`${m[1]}${unit}`)
  if (n === null || !Number.isFinite(n)) throw bad('expected a positive size such as 64MiB, 500MB, 2GiB or 1048576')
  if (n > Number.MAX_SAFE_INTEGER) throw bad('too large')
  const whole = Math.floor(n)
  if (whole <= 0) throw bad('must be at least 1 byte')
  return whole
}

/**
 * A duration in milliseconds. A bare number means milliseconds, as for --timeout; pass
 * `{unit: true}` where a bare number would be a trap (an age: `--older-than 30` is surely not
 * 30 ms), and it is refused with a hint instead.
 */
export function parseDuration(value: string, flag: string, opts: {unit?: boolean} = {}): number {
  const m = DURATION.exec(value.trim())
  const bad = (why: string) => usageError(`invalid ${flag} ${JSON.stringify(value)}: ${why}`)
  const example = 'expected a positive duration such as 500ms, 5s, 12h or 30d'
  if (!m) throw bad(example)
  if (m[2] === undefined && opts.unit) throw bad(`give a unit, such as ${m[1]}d or ${m[1]}h`)
  const n = m[2] === undefined ? Number(m[1]) : ms(`${m[1]}${m[2]}` as ms.StringValue)
  if (n === undefined || !Number.isFinite(n)) throw bad(example)
  if (n > Number.MAX_SAFE_INTEGER) throw bad('too large')
  if (n <= 0) throw bad('must be longer than zero')
  return n
}

export function parseCount(value: string, flag: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
    throw usageError(`invalid ${flag} ${JSON.stringify(value)}: expected a positive whole number`)
  }
  return Number(value)
}

/** n bytes as a value in the largest binary unit it reaches (KiB..TiB), or undefined under 1 KiB. */
export function scaleBytes(n: number): {value: number; unit: string} | undefined {
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  if (n < 1024) return undefined
  let value = n / 1024
  let u = 0
  while (value >= 1024 && u < units.length - 1) {
    value /= 1024
    u++
  }
  return {value, unit: units[u]}
}

/** A size as a user would write it back: 64MiB, 1.5GiB, 1000 bytes. */
export function formatSize(n: number): string {
  const s = scaleBytes(n)
  return s ? `${Number.isInteger(s.value) ? s.value : s.value.toFixed(1)}${s.unit}` : `${n} bytes`
}
