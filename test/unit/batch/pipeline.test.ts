import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'
import {ChunkPipeline, type RowOutput, type Tally} from '../../../src/batch/pipeline.js'
import type {BatchOptions, Chunk, OnError} from '../../../src/batch/types.js'
import type {Job, JobResult, Limits} from '../../../src/engines/protocol.js'
import type {Store} from '../../../src/store/store.js'
import type {BurnError} from '../../../src/util/errors.js'

/** One chunk of one row per index; its bytes are its index, so a fake runner knows which it got. */
const chunk = (index: number): Chunk => ({
  index,
  firstRow: index,
  rows: 1,
  format: 'ndjson',
  offset: 0,
  length: 0,
  bytes: Buffer.from(String(index)),
  firstLine: index + 1,
})

const indexOf = (job: Job) => Number(Buffer.from((job as {inputBytes: Uint8Array}).inputBytes).toString())
const ok = (index: number): JobResult => ({ok: true, output: `row${index}`, rows: 1, cache: 'hit', compileMs: 0, runMs: 0})

class FakeOutput implements RowOutput {
  closed = false
  rows: string[] = []
  add(rows: Uint8Array | string): void {
    this.rows.push(rows.toString())
  }
  flush(): void {}
  ready(): Promise<void> | undefined {
    return undefined
  }
}

interface Setup {
  chunks: number
  concurrency?: number
  onError?: OnError
  /** The input breaks after this many chunks. */
  breakAfter?: number
  exec: (index: number) => Promise<JobResult>
}

function pipeline(s: Setup) {
  const seen = {pulled: 0, sourceClosed: false, runnersClosed: false, chunkErrors: [] as BurnError[]}
  async function* chunks(): AsyncGenerator<Chunk> {
    for (let i = 0; i < s.chunks; i++) {
      if (i === s.breakAfter) throw new Error('the input broke')
      seen.pulled++
      yield chunk(i)
    }
  }
  const opts: BatchOptions = {
    ref: 'f',
    limits: {} as Limits,
    pool: () => assert.fail('not used'),
    concurrency: s.concurrency ?? 2,
    input: {format: 'ndjson'},
    output: {format: 'ndjson'},
    onError: s.onError ?? 'fail',
    onChunkError: (e) => seen.chunkErrors.push(e),
  }
  const tally: Tally = {
    summary: {rowsIn: 0, rowsOut: 0, chunks: 0, chunksFailed: 0, elapsedMs: 0, engine: 'v8', outputFormat: 'ndjson'} as Tally['summary'],
    counters: {},
    settling: [],
  }
  const p = new ChunkPipeline({
    store: {} as Store,
    opts,
    script: {hash: 'h', engine: 'v8', tag: 't', sourcePath: '/nowhere', compiledPath: '/nowhere'},
    runners: {exec: (job) => s.exec(indexOf(job)), close: () => (seen.runnersClosed = true)},
    source: {chunks: chunks(), close: () => (seen.sourceClosed = true), path: undefined},
    openOutput: () => new FakeOutput(),
    tally,
    t0: 0,
  })
  return {p, seen, tally}
}

describe('ChunkPipeline', () => {
  it('writes results in input order when later chunks finish first', async () => {
    const {p, tally} = pipeline({chunks: 12, exec: async (i) => (await sleep((12 - i) * 3), ok(i))})
    await p.run()
    assert.deepEqual(
      p.out.rows,
      Array.from({length: 12}, (_, i) => `row${i}`),
    )
    assert.equal(p.fatal, undefined)
    assert.equal(tally.summary.chunks, 12)
    assert.equal(tally.summary.rowsIn, 12)
    assert.equal(tally.summary.rowsOut, 12)
    assert.deepEqual(tally.counters, {hits: 12, 'batch.chunks.ok': 12})
  })

  it('reads no more than `window` chunks ahead of the first one not written', async () => {
    let release!: () => void
    const first = new Promise<void>((res) => (release = res))
    // concurrency 1: window 1 * 6 + 2 = 8
    const exec = async (i: number) => {
      if (i === 0) await first
      return ok(i)
    }
    const {p, seen} = pipeline({chunks: 30, concurrency: 1, exec})
    const done = p.run()
    await sleep(50)
    assert.equal(seen.pulled, 8)
    assert.deepEqual(p.out.rows, [])
    release()
    await done
    assert.equal(seen.pulled, 30)
    assert.equal(p.out.rows.length, 30)
    assert.equal(p.out.rows[29], 'row29')
  })

  it('under fail: writes the chunks before the first failed one, then stops with its error', async () => {
    const started: number[] = []
    const {p, seen, tally} = pipeline({
      chunks: 40,
      exec: async (i) => {
        started.push(i)
        // the first chunk is slow: the fourth (index 3) fails while the ones before it cannot be written yet
        await sleep(i === 0 ? 50 : 1)
        return i === 3 ? {ok: false, error: {kind: 'badData', message: 'boom'}} : ok(i)
      },
    })
    await p.run()
    assert.deepEqual(p.out.rows, ['row0', 'row1', 'row2'])
    assert.equal(p.fatal?.message, 'chunk 4 (row 4): boom')
    assert.equal(tally.summary.chunks, 4)
    assert.equal(tally.summary.chunksFailed, 1)
    assert.ok(seen.sourceClosed && seen.runnersClosed)
    assert.ok(seen.pulled < 40, `read ${seen.pulled} chunks`)
    // once index 3 is known to have failed, no later chunk starts: only the 3 other workers' chunks
    // (in flight then) can come after it
    assert.ok(Math.max(...started) <= 3 + 3, `started ${started.join(' ')}`)
  })

  it('under emit: reports each failed chunk in order and writes all the others', async () => {
    const fail = new Set([5, 2])
    const {p, seen, tally} = pipeline({
      chunks: 8,
      onError: 'emit',
      exec: async (i) => (await sleep(8 - i), fail.has(i) ? {ok: false, error: {kind: 'badData', message: `bad ${i}`}} : ok(i)),
    })
    await p.run()
    assert.deepEqual(p.out.rows, ['row0', 'row1', 'row3', 'row4', 'row6', 'row7'])
    assert.deepEqual(
      seen.chunkErrors.map((e) => e.message),
      ['chunk 3 (row 3): bad 2', 'chunk 6 (row 6): bad 5'],
    )
    assert.equal(p.fatal, undefined)
    assert.equal(tally.summary.chunksFailed, 2)
  })

  it('writes the chunks read before the input broke, then ends with the input error', async () => {
    const {p} = pipeline({chunks: 10, breakAfter: 3, onError: 'skip', exec: async (i) => (await sleep(3 - i), ok(i))})
    await p.run()
    assert.deepEqual(p.out.rows, ['row0', 'row1', 'row2'])
    assert.equal(p.fatal?.message, 'the input broke')
  })
})
