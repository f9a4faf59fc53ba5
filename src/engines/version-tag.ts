import {createRequire} from 'node:module'

let v8: {cachedDataVersionTag(): number} | undefined

/**
 * V8's cachedDataVersionTag() (tag.ts), with node:v8 loaded on first use only: it loads Node's
 * heap utilities and with them the whole streams stack (~4 ms), which a `--memo` hit answered
 * from a recorded tag (store/v8-tag-record.ts) never needs.
 */
export function cachedDataVersionTag(): number {
  v8 ??= createRequire(import.meta.url)('node:v8') as {cachedDataVersionTag(): number}
  return v8.cachedDataVersionTag()
}
