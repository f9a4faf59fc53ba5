import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {Job, JobResult, Limits} from '../../../src/engines/protocol.js'
import {ChannelReader, encodeJob, encodeResult} from '../../../src/runners/call-channel.js'

// A runner's call channel (the API's warm pool): every job and answer must come out of the
// stream exactly as it went in, whatever the pipe cuts it into.

const limits: Limits = {timeoutMs: 5000, memoryBytes: 64 << 20, maxOutputBytes: 1 << 20, maxLogBytes: 1 << 20}
const run = (input: string): Extract<Job, {op: 'run'}> => ({
  op: 'run',
  engine: 'v8',
  tag: 'v8-node20-x64-abc',
  hash: 'a'.repeat(64),
  sourcePath: '/c/objects/aa/x',
  compiledPath: '/c/compiled/t/aa/x',
  input,
  limits,
  keep: 64,
})

function readAll<T extends Job | JobResult>(stream: Buffer, cut: number): T[] {
  const reader = new ChannelReader<T>()
  const out: T[] = []
  for (let at = 0; at < stream.length; at += cut) reader.push(stream.subarray(at, at + cut), (v) => out.push(v))
  return out
}

const results: JobResult[] = [
  {ok: true, output: '{"y":42}', cache: 'none', cacheReason: 'loaded earlier by this runner', compileMs: 0, runMs: 0.0125},
  {ok: true, output: '"é\u2028\ud83d\ude00"', cache: 'hit', compileMs: 0.25, runMs: 1.5, preloaded: true, warm: true},
  {ok: true, output: '', cache: 'miss', compileMs: 3, runMs: 0},
  // not an O frame: bytes, code caches, rows and errors travel as V (v8.serialize)
  {ok: true, output: '1', cache: 'miss', cachedData: new Uint8Array([1, 2, 3]), compileMs: 2, runMs: 1},
  {ok: true, outputBytes: new Uint8Array([0x31, 0x0a]), rows: 2, cache: 'hit', compileMs: 0, runMs: 1},
  {ok: false, error: {kind: 'limit', limit: 'timeout', message: 'timeout: the script ran longer than --timeout 5s'}},
  {ok: false, error: {kind: 'script', message: 'Error: x', stack: 'Error: x\n    at f (s.js:1:2)'}, cache: 'hit'},
]

describe('runner call channel', () => {
  it('gives back every job as it was sent, cut at any byte', () => {
    const jobs: Job[] = [
      run('{"a":41}'),
      run('"\u2028 é \ud83d\ude00"'),
      run(''),
      {...run('[1,2]'), rows: true, rowsIn: 'ndjson', inputBytes: new Uint8Array([0x31, 0x0a, 0x32]), rowCount: 2},
      {op: 'compile', engine: 'quickjs', tag: 't', hash: 'b'.repeat(64), source: new Uint8Array([0x31]), filename: 'x.js', limits},
    ]
    const stream = Buffer.concat(jobs.map(encodeJob))
    for (const cut of [1, 2, 3, 5, 7, 64, stream.length]) {
      const got = readAll<Job>(stream, cut)
      assert.equal(got.length, jobs.length, `cut ${cut}`)
      got.forEach((g, i) => assert.deepEqual(normalize(g), normalize(jobs[i]), `job ${i}, cut ${cut}`))
    }
  })

  it('gives back every result with the fields it had, cut at any byte', () => {
    const stream = Buffer.concat(results.map(encodeResult))
    for (const cut of [1, 4, 6, 19, 4096]) {
      const got = readAll<JobResult>(stream, cut)
      assert.equal(got.length, results.length, `cut ${cut}`)
      got.forEach((g, i) => assert.deepEqual(normalize(g), normalize(results[i]), `result ${i}, cut ${cut}`))
    }
  })

  it('sends a plain success as an O frame, its fields and no others', () => {
    const frame = encodeResult(results[1])
    assert.equal(frame.toString('latin1', 0, 1), 'O')
    assert.equal(frame.readUInt32BE(1), frame.length - 5)
    const [back] = readAll<JobResult>(frame, frame.length)
    assert.deepEqual(Object.keys(back).sort(), ['cache', 'compileMs', 'ok', 'output', 'preloaded', 'runMs', 'warm'])
    assert.equal(encodeResult(results[3]).toString('latin1', 0, 1), 'V')
    assert.equal(encodeJob(run('1')).toString('latin1', 0, 1), 'J')
  })

  it('refuses a frame of an unknown type', () => {
    const bad = Buffer.from([0x51, 0, 0, 0, 1, 0x30])
    assert.throws(() => new ChannelReader<Job>().push(bad, () => {}), /unknown frame type "Q"/)
  })
})

/** Typed arrays compared by their bytes (v8.deserialize gives a Buffer where a Uint8Array went in). */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return [...v]
  if (Array.isArray(v)) return v.map(normalize)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]))
  return v
}
