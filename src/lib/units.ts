import bytes from 'bytes'
import ms from 'ms'
import {usageError} from './errors.js'

// Human sizes and durations go through well-kept parsers: `bytes` (sizes are binary, as in that
// library: 1MB = 1MiB = 1,048,576 bytes; an "i" spelling is accepted too) and `ms` (500ms, 5s,
// 12h, 30d; a bare number is milliseconds). Nonsense, zero and negative values are usage errors.
export function parseSize(value: string, flag: string): number {
  const normalized = value.trim().replace(/^(\d+(?:\.\d+)?)\s*([kmgtp])ib$/i, '$1$2b')
  // bytes.parse is lenient ('1.5.5MB' -> 1.5MB): only its own grammar gets through to it
  const n = /^\d+$/.test(normalized) ? Number(normalized) : /^\d+(\.\d+)?\s*[kmgtp]?b$/i.test(normalized) ? bytes.parse(normalized) : null
  if (n === null || !Number.isFinite(n) || n <= 0) {
    throw usageError(`invalid ${flag} ${JSON.stringify(value)}: expected a positive size such as 64MiB, 500MB or 1048576`)
  }
  if (n > Number.MAX_SAFE_INTEGER) throw usageError(`invalid ${flag} ${JSON.stringify(value)}: too large`)
  return Math.floor(n)
}

export function parseDuration(value: string, flag: string): number {
  const trimmed = value.trim()
  const n = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : /^\d/.test(trimmed) ? ms(trimmed as ms.StringValue) : undefined
  if (n === undefined || !Number.isFinite(n) || n <= 0) {
    throw usageError(`invalid ${flag} ${JSON.stringify(value)}: expected a positive duration such as 500ms, 5s, 12h or 30d`)
  }
  return n
}

export function parseCount(value: string, flag: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
    throw usageError(`invalid ${flag} ${JSON.stringify(value)}: expected a positive whole number`)
  }
  return Number(value)
}

/** A size as a user would write it back: 64MiB, 1.5GiB, 1000 bytes. */
export function formatSize(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = -1
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u < 0 ? `${n} bytes` : `${Number.isInteger(v) ? v : v.toFixed(1)}${units[u]}`
}
