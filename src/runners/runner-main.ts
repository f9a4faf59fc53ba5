// Entry point of a runner process: receives jobs over IPC (or its call channel, fd 4: call-channel.ts), runs them one at a time in arrival
// order, replies in that order. The parent may send the next job before this one ends (batch
// pipelines two per runner), so a runner never waits for a round trip between chunks. It may die
// (a memory bomb, a kill on timeout); the supervisor in runner.ts turns that into a clean error.
import {openSync, readSync} from 'node:fs'
import {Socket} from 'node:net'
import {executeJob} from '../engines/execute.js'
import type {InputRange, Job, JobResult} from '../engines/protocol.js'
import {collectGarbage, restoreFlagHash} from './lean-runner.js'
import {runRowsAsPlainRun} from '../engines/rows.js'
import {watchParent} from './parent-death.js'
import {ChannelReader, encodeResult} from './call-channel.js'
import {runnerRole} from './runner-env.js'
import {tuneQuickjsForFewCalls} from '../engines/wasm-flags.js'

restoreFlagHash()
watchParent()

// Engines that implement rows mode themselves (engines/protocol.ts); any other engine gets batch chunks
// through a plain run (engines/rows.ts), so a new engine works with `burn batch` at once.
const ROWS_NATIVE = new Set(['v8'])

let busy = false
const queue: Job[] = []

/** What this runner is for, as runner.ts forked it (runner-env.ts). */
const role = runnerRole()
/** Jobs come over the call channel (fd 4) when runner.ts made one (`calls`), else over node's IPC. */
const channel = role.calls ? new Socket({fd: 4, readable: true, writable: true}) : undefined

/** Set once a script's timer threw: this runner answered its last job and is exiting. */
let ending = false

/** Answers a job where it came from (the order is the jobs'). `then`: once it is written. */
function reply(result: JobResult, then?: () => void): void {
  if (ending && !(!result.ok && result.last)) return
  if (channel) channel.write(encodeResult(result), then)
  else if (then) process.send!(result, then)
  else process.send!(result)
}

// (several jobs given in one tick come as one array: runner.ts)
process.on('message', (m: Job | Job[]) => {
  if (Array.isArray(m)) queue.push(...m)
  else queue.push(m)
  if (!busy) void drain()
})
if (channel) {
  const reader = new ChannelReader<Job>()
  const take = (job: Job) => queue.push(job)
  channel.on('data', (d: Buffer) => {
    reader.push(d, take)
    if (!busy) void drain()
  })
  // burn closed the channel or is gone: nothing is left to answer to
  channel.on('close', () => process.exit(0))
  channel.on('error', () => process.exit(0))
}

async function drain(): Promise<void> {
  busy = true
  for (let job = queue.shift(); job; job = queue.shift()) {
    let result: JobResult
    let ready: Job | undefined
    try {
      ready = fromWire(job)
    } catch (error) {
      result = {ok: false, error: {kind: 'badData', message: `cannot read the input: ${(error as Error).message}`}}
    }
    if (ready) {
      try {
        result =
          ready.op === 'run' && ready.rows && !ROWS_NATIVE.has(ready.engine)
            ? await runRowsAsPlainRun(ready, executeJob)
            : await executeJob(ready)
      } catch (error) {
        result = {ok: false, error: {kind: 'internal', message: (error as Error)?.stack ?? String(error)}}
      }
    }
    reply(toWire(job, result!))
    await collectGarbage()
  }
  busy = false
}

/**
 * A rows job's file range becomes bytes, and bytes become the string engines expect (engines/protocol.ts,
 * "On the wire"), except NDJSON rows: parseRows decodes those piece by piece (rows.ts).
 */
function fromWire(job: Job): Job {
  if (job.op !== 'run' || !(job.inputRange || job.inputBytes)) return job
  const bytes = job.inputRange ? readRange(job.inputRange) : job.inputBytes!
  if (job.rowsIn === 'ndjson') return {...job, inputBytes: bytes, inputRange: undefined}
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  const r = job.inputRange
  return {...job, input: r ? (r.prefix ?? '') + text + (r.suffix ?? '') : text, inputBytes: undefined, inputRange: undefined}
}

// Ranges are read into one buffer reused for every chunk: no new memory per chunk. A job's view of
// it is valid until the next job's range is read, after this job has ended.
const files = new Map<string, number>()
let scratch = Buffer.alloc(0)

function readRange(r: InputRange): Buffer {
  let fd = files.get(r.path)
  if (fd === undefined) {
    fd = openSync(r.path, 'r')
    files.set(r.path, fd)
  }
  if (scratch.length < r.length) scratch = Buffer.allocUnsafe(Math.max(r.length, Math.min(2 * scratch.length, 1 << 26)))
  for (let got = 0; got < r.length;) {
    const n = readSync(fd, scratch, got, r.length - got, r.offset + got)
    if (n === 0) throw new Error(`${r.path} ended early: it changed while burn was reading it`)
    got += n
  }
  return scratch.subarray(0, r.length)
}

/** ... and a rows job's output goes back as bytes, which burn's main process writes as they are. */
function toWire(job: Job, result: JobResult): JobResult {
  if (job.op !== 'run' || !(job.inputBytes || job.inputRange) || !result.ok || typeof result.output !== 'string') return result
  return {...result, output: undefined, outputBytes: Buffer.from(result.output, 'utf8')}
}

// A script's timer callback that throws fails the job in flight; the runner is then replaced.
process.on('uncaughtException', (error) => {
  // (a second throwing timer in the same pass: the first one's answer is the last, the exit is on its way)
  if (ending) return
  if (busy) {
    const message = `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`
    // (`last`: the jobs queued behind this one never start here, and burn gives them to another runner)
    const result: JobResult = {ok: false, error: {kind: 'script', message, stack: (error as Error)?.stack}, last: true}
    queue.length = 0
    reply(result, () => process.exit(1))
    ending = true
  } else {
    process.exit(1)
  }
})
// A rejection the script left unhandled (not the one it returned) is ignored, as a browser would.
process.on('unhandledRejection', () => {})
// burn itself is gone (killed, or it closed the channel): nothing is left to answer to.
process.on('disconnect', () => process.exit(0))

// Warm up while the parent is still resolving the script: the runner was forked early.
if (role.engine === 'quickjs') {
  if (role.fewCalls) tuneQuickjsForFewCalls()
  void import('../engines/execute.js').then((e) => e.warmEngine('quickjs'))
} else {
  void import('../engines/v8.js').then(() => import('../util/hash.js')).then((h) => h.loadXxh64())
}
