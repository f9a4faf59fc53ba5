import {sha256 as jsSha256} from '@noble/hashes/sha2'
import {bytesToHex} from '@noble/hashes/utils'
import {nodeCrypto} from './builtins.js'

/** Inputs up to this size are hashed in JavaScript, larger ones by node:crypto. */
const JS_MAX_BYTES = 16 * 1024

/**
 * SHA-256 names sources (so `sha256sum script.js` gives the same id) and keys memoized results.
 * Large inputs go to node:crypto, native and about 10x faster on a 9 MB source (`verify`
 * re-hashes every source in the store); small ones to @noble/hashes, because node:crypto loads
 * Node's whole streams stack on first use, ~6 ms that a memo hit would pay for hashing its
 * input (the same digest either way: it is the same function, tested on both sides of the size).
 */
export function sha256(...parts: Array<Uint8Array | string>): string {
  const bytes = parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))
  if (bytes.reduce((n, b) => n + b.length, 0) <= JS_MAX_BYTES) {
    const h = jsSha256.create()
    for (const b of bytes) h.update(b)
    return bytesToHex(h.digest())
  }
  const h = nodeCrypto().createHash('sha256')
  for (const b of bytes) h.update(b)
  return h.digest('hex')
}

type Xxh = {h64Raw(input: Uint8Array, seed?: bigint): bigint}
let xxh: Promise<Xxh> | undefined

/** xxh64 checks compiled artifacts cheaply on every read; the wasm module loads on first use, once however many ask at once. */
export async function loadXxh64(): Promise<(data: Uint8Array) => bigint> {
  // (a failed load is not kept: the next call tries again)
  xxh ??= import('xxhash-wasm')
    .then(({default: init}) => init())
    .catch((error: unknown) => {
      xxh = undefined
      throw error
    })
  const h = await xxh
  return (data) => h.h64Raw(data)
}
