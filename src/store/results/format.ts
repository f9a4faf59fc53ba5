// A stored result on disk (results/<ab>/<script hash>/<memo key>, and results/keys/<key>): a
// checked header, then the result JSON as the script made it.
//   magic "BURNRS1\n" | u32 format | u32 header length | u32 flags (0)
//   | sha256(script source) 32 bytes | memo key 32 bytes
//   | u64 payload length | u64 xxh64(payload) | u64 xxh64(all header bytes before this field)
// The discipline of compiled forms (engines/artifact.ts): anything that does not match exactly
// (magic, format, lengths, both checksums, the script and the key the reader expects) is a
// miss, never a hit, so a damaged file can cost a run but never print a wrong result.
const MAGIC = Buffer.from('BURNRS1\n', 'latin1')
export const RESULT_FORMAT = 1
export const RESULT_HEADER_BYTES = 8 + 4 + 4 + 4 + 32 + 32 + 8 + 8 + 8

export interface ResultMeta {
  /** the script's source hash */
  hash: string
  /** the memo key (store/results/key.ts): engine, input and limits, digested */
  key: string
}

export function encodeResult(meta: ResultMeta, payload: Uint8Array, xxh: (d: Uint8Array) => bigint): Buffer {
  const h = Buffer.alloc(RESULT_HEADER_BYTES)
  MAGIC.copy(h, 0)
  h.writeUInt32LE(RESULT_FORMAT, 8)
  h.writeUInt32LE(RESULT_HEADER_BYTES, 12)
  h.writeUInt32LE(0, 16)
  Buffer.from(meta.hash, 'hex').copy(h, 20)
  Buffer.from(meta.key, 'hex').copy(h, 52)
  h.writeBigUInt64LE(BigInt(payload.length), 84)
  h.writeBigUInt64LE(xxh(payload), 92)
  h.writeBigUInt64LE(xxh(h.subarray(0, 100)), 100)
  return Buffer.concat([h, payload])
}

export type DecodedResult = {ok: true; meta: ResultMeta; payload: Buffer} | {ok: false; reason: string}

/**
 * The payload length in the first RESULT_HEADER_BYTES of a result file, when they are a header
 * whose checksum holds (the rest of the file unread, so unchecked); else undefined.
 */
export function headerPayloadLength(head: Buffer, xxh: (d: Uint8Array) => bigint): number | undefined {
  if (head.length < RESULT_HEADER_BYTES || !head.subarray(0, 8).equals(MAGIC)) return undefined
  return xxh(head.subarray(0, 100)) === head.readBigUInt64LE(100) ? Number(head.readBigUInt64LE(84)) : undefined
}

/** `expect`: the script and key the reader looked up; a key record (idempotency) expects no key, it reads it. */
export function decodeResult(buf: Buffer, expect: {hash?: string; key?: string}, xxh: (d: Uint8Array) => bigint): DecodedResult {
  const bad = (reason: string): DecodedResult => ({ok: false, reason})
  if (buf.length < RESULT_HEADER_BYTES) return bad(`truncated (${buf.length} bytes)`)
  if (!buf.subarray(0, 8).equals(MAGIC)) return bad('bad magic')
  if (buf.readUInt32LE(8) !== RESULT_FORMAT) return bad(`unknown result format ${buf.readUInt32LE(8)}`)
  if (buf.readUInt32LE(12) !== RESULT_HEADER_BYTES) return bad('bad header length')
  if (buf.readUInt32LE(16) !== 0) return bad(`unknown flags ${buf.readUInt32LE(16)}`)
  if (xxh(buf.subarray(0, 100)) !== buf.readBigUInt64LE(100)) return bad('header checksum mismatch')
  const hash = buf.toString('hex', 20, 52)
  const key = buf.toString('hex', 52, 84)
  if (expect.hash !== undefined && hash !== expect.hash) return bad(`made by script ${hash}, not ${expect.hash}`)
  if (expect.key !== undefined && key !== expect.key) return bad(`stored under key ${key}, not ${expect.key}`)
  const payloadLen = Number(buf.readBigUInt64LE(84))
  if (buf.length !== RESULT_HEADER_BYTES + payloadLen)
    return bad(`payload is ${buf.length - RESULT_HEADER_BYTES} bytes, header says ${payloadLen}`)
  const payload = buf.subarray(RESULT_HEADER_BYTES)
  if (xxh(payload) !== buf.readBigUInt64LE(92)) return bad('payload checksum mismatch')
  return {ok: true, meta: {hash, key}, payload}
}
