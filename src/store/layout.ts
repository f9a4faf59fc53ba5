import {join} from 'node:path'
import {usageError} from '../util/errors.js'

// Store format 1 (README, "Store (format 1)"). Every path inside the store is built here and nowhere else,
// from arguments that passed the validators below, so no hash or name can leave the store.
export const STORE_FORMAT = 1

export const FULL_HASH = /^[0-9a-f]{64}$/
export const HASH_PREFIX = /^[0-9a-f]{6,64}$/
// Names: a leading letter or digit, then letters, digits, '.', '_', '-'; at most 128 characters.
// No '/', no '\\', no '..', so a name is always one plain file under names/.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
// Engine tags are made by burn, but they are checked too since `gc` reads them back from disk.
const TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

// Each validator comes as a predicate (isValid*) and as a check that throws the usage error.
export const isValidName = (name: string): boolean => NAME.test(name) && !name.includes('..')
export const isValidHash = (hash: string): boolean => FULL_HASH.test(hash)
export const isValidTag = (tag: string): boolean => TAG.test(tag)

export function checkName(name: string): string {
  if (!isValidName(name)) {
    throw usageError(
      `invalid name ${JSON.stringify(name)}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, ` +
        "with no '..' and no path separators",
    )
  }
  return name
}

export function checkHash(hash: string): string {
  if (!isValidHash(hash)) throw usageError(`invalid hash ${JSON.stringify(hash)}: expected 64 lowercase hex digits`)
  return hash
}

export function checkTag(tag: string): string {
  if (!isValidTag(tag)) throw usageError(`invalid engine tag ${JSON.stringify(tag)}`)
  return tag
}

// A run daemon's key is a digest burn makes (run/daemon/where.ts), and `burn daemon` reads keys
// back from file names: one plain file name, as a tag.
// Keys come from where.ts (a hash) or from a listing of daemon/ (daemon status and stop, which
// must see every file there, planted ones too): only what could leave the directory is refused.
function checkDaemonKey(key: string): string {
  if (key === '' || key === '.' || key === '..' || /[/\0]/.test(key)) throw usageError(`invalid run daemon key ${JSON.stringify(key)}`)
  return key
}

export class Layout {
  constructor(readonly root: string) {}

  get storeJson() {
    return join(this.root, 'store.json')
  }
  get cachedirTag() {
    return join(this.root, 'CACHEDIR.TAG')
  }
  /** The v8 engine tag recorded for `--memo` hits (v8-tag-record.ts): a hint, rebuilt when absent. */
  get v8TagRecord() {
    return join(this.root, 'v8-tag.json')
  }
  get objectsDir() {
    return join(this.root, 'objects')
  }
  get compiledDir() {
    return join(this.root, 'compiled')
  }
  get namesDir() {
    return join(this.root, 'names')
  }
  get pendingDir() {
    return join(this.root, 'pending')
  }
  get statsDir() {
    return join(this.root, 'stats')
  }
  get tmpDir() {
    return join(this.root, 'tmp')
  }
  /** Files that failed a check are moved here for `verify`/`gc`; never read as cache entries. */
  get damagedDir() {
    return join(this.root, 'damaged')
  }
  /** The engines each script was registered for (trust.ts): absent in stores of earlier burns. */
  get enginesDir() {
    return join(this.root, 'engines')
  }
  /**
   * Memoized results (store/results/): made on the first `run --memo`, so not among storeDirs
   * (a store of an earlier burn has none, and needs none).
   */
  get resultsDir() {
    return join(this.root, 'results')
  }
  /** The idempotency keys' records (`run --idempotency-key`), named by the key, validated as names are. */
  get keysDir() {
    return join(this.resultsDir, 'keys')
  }
  /** The run daemons' sockets and locks (run/daemon/where.ts). */
  get daemonDir() {
    return join(this.root, 'daemon')
  }
  /** The directories every store has (made with it, checked at every open). */
  get storeDirs() {
    return [this.objectsDir, this.compiledDir, this.namesDir, this.pendingDir, this.statsDir, this.tmpDir, this.damagedDir, this.enginesDir]
  }

  objectShard(prefix: string) {
    return join(this.objectsDir, prefix.slice(0, 2))
  }
  object(hash: string) {
    return join(this.objectsDir, checkHash(hash).slice(0, 2), hash)
  }
  compiledTagDir(tag: string) {
    return join(this.compiledDir, checkTag(tag))
  }
  compiled(tag: string, hash: string) {
    return join(this.compiledTagDir(tag), checkHash(hash).slice(0, 2), hash)
  }
  engines(hash: string) {
    return join(this.enginesDir, checkHash(hash).slice(0, 2), hash)
  }
  /** One script's results: one directory, so `forget` and `gc` remove them with the script. */
  resultsOf(hash: string) {
    return join(this.resultsDir, checkHash(hash).slice(0, 2), hash)
  }
  /** The result of `hash` for one memo key (a 64-hex digest of engine, input and limits: store/results/key.ts). */
  result(hash: string, key: string) {
    return join(this.resultsOf(hash), checkHash(key))
  }
  idempotencyKey(key: string) {
    return join(this.keysDir, checkName(key))
  }
  name(name: string) {
    return join(this.namesDir, checkName(name))
  }
  lock(key: string) {
    return join(this.pendingDir, `${key}.lock`)
  }
  /** The socket of the run daemon for one environment, `key` (run/daemon/where.ts). */
  daemonSocket(key: string) {
    return join(this.daemonDir, `${checkDaemonKey(key)}.sock`)
  }
  /** The lock that daemon holds while it lives. */
  daemonLock(key: string) {
    return join(this.daemonDir, `${checkDaemonKey(key)}.lock`)
  }
}
