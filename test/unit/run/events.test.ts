import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {encodeEvents, RunEventReader, type RunEvent} from '../../../src/run/events.js'

// The run child's events on fd 3 (src/run/events.ts), written by child.ts and read by
// supervisor.ts: the bytes on the wire, and the events read back however the stream is cut.

const all: RunEvent[] = [
  {kind: 'body', baselineBytes: 52178944},
  {kind: 'body-end', clean: true},
  {kind: 'resolved', engine: 'quickjs', hash: 'ab'.repeat(32)},
  {kind: 'started'},
  {kind: 'started', warm: {bodyMs: 312.5, baselineBytes: 52178944}},
  {kind: 'stdout-next', stderrBytes: 12, stdoutAt: 3},
  {kind: 'ended'},
  {kind: 'exit', code: 6},
]

describe('run child events', () => {
  it('are one line each, a letter and its numbers', () => {
    assert.equal(encodeEvents(...all), `b 52178944\nB 1\nh quickjs ${'ab'.repeat(32)}\ns\ns 312.5 52178944\no 12 3\ne\nx 6\n`)
    assert.equal(encodeEvents({kind: 'body-end', clean: false}), 'B 0\n')
    assert.equal(encodeEvents(), '')
  })

  it('read back as written, the stream cut anywhere', () => {
    const bytes = Buffer.from(encodeEvents(...all), 'latin1')
    for (let size = 1; size <= bytes.length; size++) {
      const reader = new RunEventReader()
      const got: RunEvent[] = []
      for (let at = 0; at < bytes.length; at += size) got.push(...reader.push(bytes.subarray(at, at + size)))
      assert.deepEqual(got, all, `cut every ${size} bytes`)
    }
  })

  it('hold back a line until its end comes, and skip lines of no known event', () => {
    const reader = new RunEventReader()
    assert.deepEqual(reader.push(Buffer.from('x 0')), [])
    assert.deepEqual(reader.push(Buffer.from('\nz 1 2\n\ns\n')), [{kind: 'exit', code: 0}, {kind: 'started'}])
  })
})

describe('the remote-failed event', () => {
  it('carries its reason as one ASCII word, and reads back to the same words', () => {
    const why = 'no answer within 6500 ms (connecting) é\n%'
    const line = encodeEvents({kind: 'remote-failed', why})
    assert.equal(line, 'r no%20answer%20within%206500%20ms%20(connecting)%20%C3%A9%0A%25\n')
    assert.deepEqual(new RunEventReader().push(Buffer.from(line, 'latin1')), [{kind: 'remote-failed', why}])
    // a reason that is not valid escaping is kept as it came, never a crash
    assert.deepEqual(new RunEventReader().push(Buffer.from('r 100%\n')), [{kind: 'remote-failed', why: '100%'}])
  })
})
