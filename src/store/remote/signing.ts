import {nodeCrypto} from '../../util/builtins.js'
import {parseRecord} from '../engine-trust.js'
import {isValidHash} from '../layout.js'
import type {EngineName} from '../../engines/tag.js'

/*
 * Records that carry trust: a name (name -> hash) and a script's engine binding (which engines
 * its registrant trusted it for). Content addressing makes fetched bytes safe to accept, not
 * safe to follow or to run on v8: whoever can write the remote could point a name at another
 * valid script or mark any script as v8. So these records are used only when they carry an
 * HMAC-SHA256 made with BURN_REMOTE_KEY over the record's key and its content together
 * (turborepo's signed artifacts), so a signature can never be moved to another name or script.
 *
 * A v8 compiled form is sealed the same way: V8 accepts a code cache made for another source of
 * the same length and runs that other code (docs/architecture.md, "Measured facts"), and no check
 * of burn's can tell which source a payload was made from. So a v8 form from a remote is as
 * strong as code, and is used only with a valid seal; a quickjs form is a marker (quickjs always
 * compiles the source itself) and travels unsealed.
 */

interface Signed {
  v: 1
  /** The name's hash, or the engines list. */
  value: string | EngineName[]
  sig?: string
}

export type Verdict<T> = {ok: true; value: T} | {ok: false; why: 'unsigned' | 'no-key' | 'bad-signature' | 'malformed'}

const mac = (key: string, subject: string, value: string): string =>
  nodeCrypto().createHmac('sha256', key).update(`burn-remote-1\n${subject}\n${value}`).digest('hex')

const nameSubject = (name: string) => `name:${name}`
const enginesSubject = (hash: string) => `engines:${hash}`

export function signName(name: string, hash: string, key: string | undefined): Buffer {
  return encode(nameSubject(name), hash, key)
}

export function signEngines(hash: string, engines: EngineName[], key: string | undefined): Buffer {
  return encode(enginesSubject(hash), engines, key)
}

function encode(subject: string, value: Signed['value'], key: string | undefined): Buffer {
  const rec: Signed = {v: 1, value, ...(key ? {sig: mac(key, subject, JSON.stringify(value))} : {})}
  return Buffer.from(JSON.stringify(rec))
}

export function verifyName(bytes: Buffer, name: string, key: string | undefined): Verdict<string> {
  const v = verify(bytes, nameSubject(name), key)
  if (!v.ok) return v
  return typeof v.value === 'string' && isValidHash(v.value) ? {ok: true, value: v.value} : {ok: false, why: 'malformed'}
}

export function verifyEngines(bytes: Buffer, hash: string, key: string | undefined): Verdict<EngineName[]> {
  const v = verify(bytes, enginesSubject(hash), key)
  if (!v.ok) return v
  const engines = parseRecord(JSON.stringify(v.value))
  return typeof engines === 'string' ? {ok: false, why: 'malformed'} : {ok: true, value: engines}
}

function verify(bytes: Buffer, subject: string, key: string | undefined): Verdict<Signed['value']> {
  let rec: Partial<Signed>
  try {
    rec = JSON.parse(bytes.toString('utf8')) as Partial<Signed>
  } catch {
    return {ok: false, why: 'malformed'}
  }
  if (typeof rec !== 'object' || rec === null || rec.v !== 1 || rec.value === undefined) return {ok: false, why: 'malformed'}
  if (typeof rec.sig !== 'string') return {ok: false, why: 'unsigned'}
  if (!key) return {ok: false, why: 'no-key'}
  const want = Buffer.from(mac(key, subject, JSON.stringify(rec.value)), 'hex')
  const got = Buffer.from(rec.sig, 'hex')
  if (got.length !== want.length || !nodeCrypto().timingSafeEqual(got, want)) return {ok: false, why: 'bad-signature'}
  return {ok: true, value: rec.value}
}

const SEAL = Buffer.from('burnsig1')
const MAC_BYTES = 32

const compiledSubject = (tag: string, hash: string) => `compiled:${tag}:${hash}`
const resultSubject = (hash: string, key: string) => `result:${hash}:${key}`
const digest = (bytes: Uint8Array) => nodeCrypto().createHash('sha256').update(bytes).digest('hex')

/** The artifact followed by `burnsig1` and the HMAC of (tag, hash, SHA-256 of the artifact). */
export function sealCompiled(tag: string, hash: string, artifact: Buffer, key: string): Buffer {
  return seal(compiledSubject(tag, hash), artifact, key)
}

/** The artifact inside a sealed value, or undefined when the seal is missing, for other bytes, or made with another key. */
export function openCompiled(value: Buffer, tag: string, hash: string, key: string | undefined): Buffer | undefined {
  return unseal(value, compiledSubject(tag, hash), key)
}

/*
 * A memoized result (store/results/format.ts) is sealed as a v8 form is, and for the same
 * reason: nothing in it can be checked against its content. Its checksums say the bytes are
 * whole, not that running the script on that input gives them; only a key holder's seal over
 * (script hash, memo key, the bytes) does, and it cannot be moved to another key or script.
 */
export function sealResult(hash: string, memoKey: string, file: Buffer, key: string): Buffer {
  return seal(resultSubject(hash, memoKey), file, key)
}

export function openResult(value: Buffer, hash: string, memoKey: string, key: string | undefined): Buffer | undefined {
  return unseal(value, resultSubject(hash, memoKey), key)
}

function seal(subject: string, artifact: Buffer, key: string): Buffer {
  return Buffer.concat([artifact, SEAL, Buffer.from(mac(key, subject, digest(artifact)), 'hex')])
}

function unseal(value: Buffer, subject: string, key: string | undefined): Buffer | undefined {
  if (!key || value.length < SEAL.length + MAC_BYTES) return undefined
  const at = value.length - MAC_BYTES - SEAL.length
  if (!value.subarray(at, at + SEAL.length).equals(SEAL)) return undefined
  const artifact = value.subarray(0, at)
  const want = Buffer.from(mac(key, subject, digest(artifact)), 'hex')
  return nodeCrypto().timingSafeEqual(value.subarray(at + SEAL.length), want) ? artifact : undefined
}
