// Compiled form on disk: a checked header, then the engine's payload (a V8 code cache).
//   magic "BURNCC1\n" | u32 format | u32 header length | u32 flags | u16 tag length | tag
//   | sha256(source) 32 bytes | u64 xxh64(source) | u64 source length
//   | u64 payload length | u64 xxh64(payload) | u64 xxh64(all header bytes before this field)
// Anything that does not match exactly is a miss, never a hit: a reader checks magic, format,
// lengths, all three checksums, the engine tag and the source hash.
// Flag bit 0 ("warm"): the code cache was made after a first call, so it also holds the
// functions that call compiled lazily; register's cache (module body only) is upgraded once by
// the first run that hits it.
const MAGIC = Buffer.from('BURNCC1\n', 'latin1')
export const ARTIFACT_FORMAT = 1

export interface ArtifactMeta {
  tag: string
  sourceHash: string
  sourceXxh: bigint
  sourceLength: number
  warm?: boolean
}

export function encodeArtifact(meta: ArtifactMeta, payload: Uint8Array, xxh: (d: Uint8Array) => bigint): Buffer {
  const tag = Buffer.from(meta.tag, 'utf8')
  const headerLen = 8 + 4 + 4 + 4 + 2 + tag.length + 32 + 8 + 8 + 8 + 8 + 8
  const h = Buffer.alloc(headerLen)
  let o = 0
  MAGIC.copy(h, o)
  o += 8
  h.writeUInt32LE(ARTIFACT_FORMAT, o)
  o += 4
  h.writeUInt32LE(headerLen, o)
  o += 4
  h.writeUInt32LE(meta.warm ? 1 : 0, o)
  o += 4
  h.writeUInt16LE(tag.length, o)
  o += 2
  tag.copy(h, o)
  o += tag.length
  Buffer.from(meta.sourceHash, 'hex').copy(h, o)
  o += 32
  h.writeBigUInt64LE(meta.sourceXxh, o)
  o += 8
  h.writeBigUInt64LE(BigInt(meta.sourceLength), o)
  o += 8
  h.writeBigUInt64LE(BigInt(payload.length), o)
  o += 8
  h.writeBigUInt64LE(xxh(payload), o)
  o += 8
  h.writeBigUInt64LE(xxh(h.subarray(0, o)), o)
  return Buffer.concat([h, payload])
}

export type Decoded = {ok: true; meta: ArtifactMeta; payload: Buffer} | {ok: false; reason: string}

export function decodeArtifact(buf: Buffer, expect: {tag: string; sourceHash: string}, xxh: (d: Uint8Array) => bigint): Decoded {
  const bad = (reason: string): Decoded => ({ok: false, reason})
  if (buf.length < 8 + 4 + 4 + 4 + 2) return bad(`truncated (${buf.length} bytes)`)
  if (!buf.subarray(0, 8).equals(MAGIC)) return bad('bad magic')
  if (buf.readUInt32LE(8) !== ARTIFACT_FORMAT) return bad(`unknown artifact format ${buf.readUInt32LE(8)}`)
  const headerLen = buf.readUInt32LE(12)
  const flags = buf.readUInt32LE(16)
  const tagLen = buf.readUInt16LE(20)
  if (headerLen !== 8 + 4 + 4 + 4 + 2 + tagLen + 32 + 40 || buf.length < headerLen) return bad('bad header length')
  if (flags > 1) return bad(`unknown flags ${flags}`)
  let o = 22
  const tag = buf.toString('utf8', o, o + tagLen)
  o += tagLen
  const sourceHash = buf.toString('hex', o, o + 32)
  o += 32
  const sourceXxh = buf.readBigUInt64LE(o)
  o += 8
  const sourceLength = Number(buf.readBigUInt64LE(o))
  o += 8
  const payloadLen = Number(buf.readBigUInt64LE(o))
  o += 8
  const payloadXxh = buf.readBigUInt64LE(o)
  o += 8
  const headerXxh = buf.readBigUInt64LE(o)
  if (xxh(buf.subarray(0, o)) !== headerXxh) return bad('header checksum mismatch')
  if (tag !== expect.tag) return bad(`engine tag ${tag} is not ${expect.tag}`)
  if (sourceHash !== expect.sourceHash) return bad(`made from source ${sourceHash}, not ${expect.sourceHash}`)
  if (buf.length !== headerLen + payloadLen) return bad(`payload is ${buf.length - headerLen} bytes, header says ${payloadLen}`)
  const payload = buf.subarray(headerLen)
  if (xxh(payload) !== payloadXxh) return bad('payload checksum mismatch')
  return {ok: true, meta: {tag, sourceHash, sourceXxh, sourceLength, warm: flags === 1}, payload}
}
