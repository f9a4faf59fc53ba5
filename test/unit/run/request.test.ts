import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {fromChildArgs, isRunRequest, parseRunArgv, runRequest, toChildArgs, type RunRequest} from '../../../src/run/request.js'
import {parseCall} from '../../../src/run/daemon/frames.js'

// `burn run`'s request (src/run/request.ts): made once from the arguments, then handed to the
// run daemon and the run child as data.

const MiB = 1024 * 1024
const defaults = {timeoutMs: 5000, memoryBytes: 512 * MiB, maxOutputBytes: 64 * MiB, maxLogBytes: MiB}

function request(...argv: string[]): RunRequest {
  const parsed = parseRunArgv(argv)
  assert.ok(parsed, `parsed: ${argv.join(' ')}`)
  return runRequest(parsed.ref, {'cache-dir': '/c', ...parsed.flags})
}

const usage = (message: string) => ({kind: 'usage', message})

describe('run request', () => {
  it('holds the reference, the parsed limits, the cache dir and the output mode', () => {
    assert.deepEqual(request('sum', '-t', '500ms', '--memory=64MiB', '--max-log', '2KiB', '--pretty'), {
      ref: 'sum',
      input: {from: 'stdin-or-null'},
      engine: undefined,
      limits: {...defaults, timeoutMs: 500, memoryBytes: 64 * MiB, maxLogBytes: 2048, fuel: undefined},
      fuelRefused: undefined,
      cacheDir: '/c',
      output: 'pretty',
    })
    assert.equal(request('sum', '--pretty', '--json').output, 'json')
    assert.equal(request('sum').output, 'plain')
    assert.equal(request('sum', '-e', 'quickjs', '--fuel', '1000').limits.fuel, 1000)
  })

  it('says where the input comes from', () => {
    assert.deepEqual(request('s', '--input', '{"a":1}').input, {from: 'text', text: '{"a":1}'})
    assert.deepEqual(request('s', '-f', 'row.json').input, {from: 'file', path: 'row.json'})
    assert.deepEqual(request('s', '--input-file', '-').input, {from: 'stdin'})
  })

  it('throws the usage error of a bad limit', () => {
    assert.throws(() => request('s', '--timeout', '0'), usage('invalid --timeout "0": must be longer than zero'))
    assert.throws(
      () => request('s', '--memory', '1MiB'),
      usage(`invalid --memory "1MiB": give at least 8MiB (a runner's own memory moves by a few MiB while a script runs)`),
    )
    assert.throws(
      () => request('s', '--engine', 'v8', '--fuel', '5'),
      usage('--fuel applies to the quickjs engine only; add --engine quickjs, or use --timeout on v8'),
    )
  })

  it('carries the --fuel refusal for a script that turns out not to be quickjs, when no --engine was given', () => {
    const msg = '--fuel applies to the quickjs engine only; add --engine quickjs, or use --timeout on v8'
    assert.equal(request('s', '--fuel', '5').fuelRefused, msg)
    assert.equal(request('s', '--fuel', '5', '-e', 'quickjs').fuelRefused, undefined)
    assert.equal(request('s').fuelRefused, undefined)
  })

  it('reaches a direct child with an --input text as its own argument, never re-encoded', () => {
    const text = '{"q":"\\"quoted\\""}'
    const req = request('s', '--input', text)
    const args = toChildArgs(req)
    assert.equal(args.length, 2)
    assert.equal(args[1], text)
    assert.ok(!args[0].includes('quoted'))
    assert.deepEqual(fromChildArgs(args), JSON.parse(JSON.stringify(req)))
    const other = request('s', '-f', '-')
    assert.deepEqual(toChildArgs(other), [JSON.stringify(other)])
    assert.deepEqual(fromChildArgs(toChildArgs(other)), JSON.parse(JSON.stringify(other)))
  })

  it('is taken from a socket only when every field has its type', () => {
    const good = JSON.parse(JSON.stringify(request('s', '-e', 'quickjs', '--fuel', '9', '-i', '1')))
    assert.equal(isRunRequest(good), true)
    const bad: Record<string, unknown> = {
      ref: 5,
      cacheDir: null,
      engine: 'node',
      output: 'yaml',
      fuelRefused: 1,
      limits: {...good.limits, timeoutMs: -1},
      input: {from: 'text'},
      memo: 'yes',
      idempotencyKey: '../k',
    }
    for (const [k, v] of Object.entries(bad)) assert.equal(isRunRequest({...good, [k]: v}), false, k)
    assert.equal(isRunRequest({...good, memo: true, idempotencyKey: 'order-1'}), true)
    assert.equal(isRunRequest({...good, limits: {...good.limits, fuel: '9'}}), false)
    assert.equal(isRunRequest({...good, input: {from: 'file'}}), false)
    assert.equal(isRunRequest(null), false)
  })

  it('travels to the daemon with the client cwd and stdin, in an R frame', () => {
    const run = JSON.parse(JSON.stringify(request('s')))
    const frame = (v: unknown) => Buffer.from(JSON.stringify(v))
    assert.deepEqual(parseCall(frame({run, cwd: '/w', stdin: null})), {run, cwd: '/w', stdin: null})
    assert.deepEqual(parseCall(frame({run, cwd: '/w', stdin: 'x'})), {run, cwd: '/w', stdin: 'x'})
    assert.equal(parseCall(frame({run, cwd: 1, stdin: null})), undefined)
    assert.equal(parseCall(frame({run: {...run, ref: 1}, cwd: '/w', stdin: null})), undefined)
    assert.equal(parseCall(frame({argv: ['s'], cwd: '/w', stdin: null})), undefined)
    assert.equal(parseCall(Buffer.from('{run')), undefined)
  })
})
