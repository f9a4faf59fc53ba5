import {type FileHandle, lstat, mkdir, open, rename, rm} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {faultPoint, injectedWriteError} from '../util/faults.js'

/**
 * `bytes` random bytes as hex: the unique part of a name in the store (tmp files, stats deltas,
 * set-aside files) and of a lock's token. From Math.random, not node:crypto: these live in the
 * user's private store directories, so they must be unique, not secret, and loading node:crypto
 * costs a short-lived process ~6 ms, a quarter of a memo hit's own work. V8 seeds Math.random
 * from system entropy, except under --random-seed or --predictable, where every process and
 * worker thread draws the same sequence: the clock's nanoseconds and a per-process count are
 * mixed in, and the names also carry the pid.
 */
export function randomHex(bytes: number): string {
  let mix = (Number(process.hrtime.bigint() & 0xffffffffn) ^ Math.imul(++drawn, 0x9e3779b1)) >>> 0
  let out = ''
  for (let i = 0; i < bytes; i++) {
    out += ((((Math.random() * 256) | 0) ^ mix) & 0xff).toString(16).padStart(2, '0')
    mix = i % 4 === 3 ? Math.imul(mix ^ (mix >>> 15), 0x2c1b3c6d) >>> 0 : mix >>> 8
  }
  return out
}

let drawn = 0

export function tmpName(tmpDir: string, label: string): string {
  return join(tmpDir, `${label}.${process.pid}.${randomHex(6)}.tmp`)
}

/**
 * tmp -> fsync -> rename, with the tmp file under the store's tmp/ so a crash leaves debris only
 * there (gc sweeps it by age). The rename replaces atomically: a reader sees the old file or the
 * new one, never a part. `fault` names the crash-test points of this write (see faults.ts).
 */
export async function writeAtomic(tmpDir: string, dest: string, data: Uint8Array | string, fault = 'write', durable = true): Promise<void> {
  const tmp = tmpName(tmpDir, fault)
  let moved = false
  try {
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await writeData(fh, data, fault)
      faultPoint(`${fault}:tmp-written`)
      if (durable) await fh.sync()
    } finally {
      await fh.close()
    }
    faultPoint(`${fault}:tmp-synced`)
    const place = async () => {
      await mkdir(dirname(dest), {recursive: true, mode: 0o700})
      await refuseLink(dirname(dest))
      await rename(tmp, dest)
    }
    // `gc` removes empty directories of foreign engine tags: if this one went between the mkdir
    // and the rename, make it again once.
    await place().catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? place() : Promise.reject(error)))
    moved = true
    faultPoint(`${fault}:renamed`)
    if (durable) await syncDir(dirname(dest))
  } finally {
    if (!moved) await rm(tmp, {force: true}).catch(() => {})
  }
}

/**
 * Writes all of `data` into a new, empty file. Under BURN_FAULT_ENOSPC (faults.ts) a part of it
 * goes to the file first and then the write fails, as on a disk that fills up mid-write;
 * `<label>:partial` is the fault point in between, where a test stops the process to look at
 * the part on disk before the clean-up runs.
 */
export async function writeData(fh: FileHandle, data: Uint8Array | string, label: string): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  const injected = injectedWriteError(label, bytes.length)
  if (!injected) return fh.writeFile(bytes)
  await fh.write(bytes, 0, injected.after)
  faultPoint(`${label}:partial`)
  throw injected.error
}

/** A directory of the store replaced by a symlink must not carry writes out of the store. */
export async function refuseLink(dir: string): Promise<void> {
  const st = await lstat(dir)
  if (st.isSymbolicLink() || !st.isDirectory()) {
    const err = new Error(
      `${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; ` +
        'burn does not follow links out of its store (run `burn verify --fix`)',
    ) as NodeJS.ErrnoException
    err.code = 'ELOOP'
    throw err
  }
}

/** fsync a directory so a rename in it survives power loss. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined)
  if (!fh) return
  try {
    await fh.sync()
  } catch {
    // some filesystems refuse fsync on directories; the rename itself already happened
  } finally {
    await fh.close()
  }
}
