import assert from 'node:assert/strict'
import type {ChildProcess} from 'node:child_process'
import {EventEmitter} from 'node:events'
import type {Socket} from 'node:net'
import {PassThrough} from 'node:stream'
import {describe, it} from 'node:test'
import {OutputRelay} from '../../../src/run/daemon/relay.js'

// The run daemon's relay (src/run/daemon/relay.ts), driven step by step: stdout and stderr
// arrive in an order of the test's choosing, and the frames sent must be in the order the
// runner wrote them (its marks), with backpressure from the client respected.

const tick = () => new Promise((r) => setImmediate(r))

function harness(opts: {full?: () => boolean} = {}) {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const child = {stdout, stderr} as unknown as ChildProcess
  const conn = new EventEmitter() as unknown as Socket
  const sent: string[] = []
  const relay = new OutputRelay(
    child,
    (type, d) => {
      sent.push(`${type}:${d}`)
      return !(opts.full?.() ?? false)
    },
    conn,
  )
  return {stdout, stderr, conn, sent, relay}
}

describe('run daemon output relay', () => {
  it('holds a result that overtook the console lines before it', async () => {
    const h = harness()
    h.stdout.write('{"n":1}\n')
    await tick()
    assert.deepEqual(h.sent, [], 'no mark yet: held')
    h.relay.order(0, 7)
    await tick()
    assert.deepEqual(h.sent, [], 'the 7 bytes of stderr before it have not gone out')
    h.stderr.write('line 0\n')
    h.stderr.write('line 1\n') // written after the result: it comes after it
    await tick()
    assert.deepEqual(h.sent, ['e:line 0\n', 'o:{"n":1}\n', 'e:line 1\n'])
  })

  it('splits a stdout chunk at the next mark', async () => {
    const h = harness()
    h.relay.order(0, 0)
    h.relay.order(3, 2)
    h.stdout.write('abcdef')
    await tick()
    assert.deepEqual(h.sent, ['o:abc'])
    h.stderr.write('xy')
    await tick()
    assert.deepEqual(h.sent, ['o:abc', 'e:xy', 'o:def'])
  })

  it('lets stdout nobody marked go when stderr ends', async () => {
    const h = harness()
    h.stdout.write('unmarked')
    await tick()
    assert.deepEqual(h.sent, [])
    h.stderr.end()
    await tick()
    assert.deepEqual(h.sent, ['o:unmarked'])
  })

  it('waits for the client to drain before sending more', async () => {
    let full = true
    const h = harness({full: () => full})
    h.relay.order(0, 0)
    h.stdout.write('one')
    await tick()
    h.stdout.write('two')
    await tick()
    assert.deepEqual(h.sent, ['o:one'], 'nothing more before drain')
    assert.equal(h.stdout.isPaused(), true)
    full = false
    h.conn.emit('drain')
    await tick()
    assert.deepEqual(h.sent, ['o:one', 'o:two'])
    assert.equal(h.stdout.isPaused(), false)
  })

  it("says all was sent only once no stdout it read waits for the client's drain", async () => {
    let full = true
    const h = harness({full: () => full})
    h.relay.order(0, 0)
    h.stdout.write('one')
    await tick()
    let sent = false
    const done = h.relay.sent().then(() => (sent = true))
    await tick()
    assert.deepEqual([h.sent, sent], [['o:one'], false], 'the client has not drained "one" yet')
    full = false
    h.conn.emit('drain')
    await done
    assert.equal(sent, true)
  })
})
