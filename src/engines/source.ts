import {decodeArtifact} from './artifact.js'
import {loadXxh64, sha256} from '../util/hash.js'
import {notRegular, readRegular} from '../util/read-regular.js'
import type {CacheOutcome, JobError, JobResult, ScriptFiles} from './protocol.js'

export type LoadedSource =
  {ok: true; source: Buffer; payload?: Buffer; warm?: boolean; cache: CacheOutcome; cacheReason?: string} | {ok: false; result: JobResult}

/**
 * Reads a run job's source and compiled form, shared by the engines. A valid compiled form
 * comes back as `payload` (cache stays 'miss' here: only the engine knows whether it accepts
 * it); a damaged one is 'corrupt'. Without a valid compiled form the source is re-hashed, so a
 * damaged source object is never run.
 */
export async function loadSource(job: ScriptFiles): Promise<LoadedSource> {
  const [source, artifactBuf] = await Promise.all([
    // A source that is not a regular file (a FIFO, a symbolic link) is damage; other errors stay errors.
    readRegular(job.sourcePath).catch((e: NodeJS.ErrnoException) => (notRegular(e) ? e : Promise.reject(e))),
    // Missing is a plain miss; unreadable in any other way (a directory, a FIFO or a symbolic
    // link in its place, no permission) is a damaged compiled form: set aside and rebuilt, never fatal.
    readRegular(job.compiledPath).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : (e.code ?? 'EIO'))),
  ])
  if (source instanceof Error) {
    return {
      ok: false,
      result: {ok: false, error: {kind: 'sourceDamaged', message: `the stored source of ${job.hash} cannot be read (${source.message})`}},
    }
  }
  const xxh = await loadXxh64()
  let cache: CacheOutcome = 'miss'
  let cacheReason: string | undefined
  let payload: Buffer | undefined
  let warm = false
  const damaged = {kind: 'sourceDamaged', message: `the stored source of ${job.hash} does not match its hash`} as const
  if (typeof artifactBuf === 'string') {
    cache = 'corrupt'
    cacheReason = `unreadable (${artifactBuf})`
  } else if (artifactBuf) {
    const decoded = decodeArtifact(artifactBuf, {tag: job.tag, sourceHash: job.hash}, xxh)
    if (decoded.ok) {
      // The header's xxh64 of the source proves cheaply that the source on disk is the one this
      // compiled form was made from; a mismatch means the source object itself is damaged.
      if (decoded.meta.sourceLength !== source.length || decoded.meta.sourceXxh !== xxh(source)) {
        return {ok: false, result: {ok: false, error: damaged}}
      }
      payload = decoded.payload
      warm = decoded.meta.warm === true
    } else {
      cache = 'corrupt'
      cacheReason = decoded.reason
    }
  }
  if (!payload && sha256(source) !== job.hash) {
    return {ok: false, result: {ok: false, error: damaged, cache, cacheReason}}
  }
  return {ok: true, source, payload, warm, cache, cacheReason}
}

/** The call's input by the host's JSON.parse; quickjs parses in its guest, and words a failure with this, so errors read the same. */
export function parseJobInput(text: string): {ok: true; value: unknown} | {ok: false; error: JobError} {
  try {
    return {ok: true, value: JSON.parse(text)}
  } catch (error) {
    return {ok: false, error: {kind: 'badData', message: `invalid JSON input: ${(error as Error).message}`}}
  }
}
