import {readInput} from '../cli/input.js'
import type {Limits} from '../engines/protocol.js'
import {runTarget} from '../store/engine-trust.js'
import type {RunOutcome} from '../store/outcome.js'
import {engineTag} from '../engines/tag.js'
import type {Layout} from '../store/layout.js'
import {memoKey, type MemoTarget} from '../store/results/key.js'
import {countHit, lookupMemo, type MemoOptions} from '../store/results/memo.js'
import {openStore} from '../store/store.js'
import {recordV8Tag, recordedV8Tag} from '../store/v8-tag-record.js'
import {prettyJson} from '../util/json/pretty.js'
import {writeAllSync} from '../util/write-sync.js'
import {inputFlags, type RunRequest} from './request.js'

/** The memo options of a call, or undefined when it neither memoizes nor carries an idempotency key. */
export function memoOptions(req: RunRequest): MemoOptions | undefined {
  if (!req.memo && req.idempotencyKey === undefined) return undefined
  return {memo: Boolean(req.memo), ...(req.idempotencyKey !== undefined ? {idempotencyKey: req.idempotencyKey} : {})}
}

/**
 * lookupMemo under the v8 tag recorded for this process (store/v8-tag-record.ts), which spares a
 * hit loading node:v8; a miss, or no record, computes the real tag, records it, and (when it
 * differs from the record) looks again.
 */
async function lookupWithRecordedTag(layout: Layout, target: MemoTarget, memo: MemoOptions): Promise<string | undefined> {
  const recorded = target.engine === 'v8' ? recordedV8Tag(layout) : undefined
  if (recorded !== undefined) {
    const output = await lookupMemo(layout, target, memoKey({...target, tag: recorded}), memo)
    if (output !== undefined) return output
  }
  const real = engineTag(target.engine)
  if (target.engine === 'v8' && real !== recorded) await recordV8Tag(layout, real)
  return real === recorded ? undefined : lookupMemo(layout, target, memoKey({...target, tag: real}), memo)
}

/** What `burn run` prints on stdout for a result (without the newline). */
export function runOutput(req: RunRequest, out: RunOutcome, limits: Limits): string {
  if (req.output === 'json') return JSON.stringify({hash: out.hash, cache: out.cache, result: JSON.parse(out.output)})
  return req.output === 'pretty' ? prettyJson(out.output, limits.maxOutputBytes) : out.output
}

/*
 * A memo hit answered by the `burn run` client itself, before it contacts the run daemon: the
 * stored result is a file read away, so neither a runner nor a socket round trip is needed (the
 * daemon would only pass the request on to a runner). Anything else returns undefined and the
 * call goes on as usual: a miss, an input on stdin (read here, it would have to be handed on,
 * and the daemon client reads stdin itself), and every error, whose words are the full path's
 * to give. The child (child.ts) looks again under the key's lock, which is what makes
 * concurrent misses run once.
 */
export async function answerFromMemo(req: RunRequest): Promise<number | undefined> {
  const memo = memoOptions(req)
  if (!memo || (req.input.from !== 'text' && req.input.from !== 'file')) return undefined
  try {
    const store = await openStore(req.cacheDir, {create: false})
    if (!store) return undefined
    const {hash, engine} = await runTarget(store, req.ref, req.engine)
    if (req.fuelRefused !== undefined && engine !== 'quickjs') return undefined
    const target = {hash, engine, input: await readInput(inputFlags(req.input)), limits: req.limits}
    const output = await lookupWithRecordedTag(store.layout, target, memo)
    if (output === undefined) return undefined
    const text = runOutput(req, {hash, output, cache: 'memo'}, req.limits) + '\n'
    await countHit(store.layout, hash)
    writeAllSync(1, text)
    return 0
  } catch {
    return undefined
  }
}
