import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {frame, FrameReader} from '../../../src/run/daemon/frames.js'

// The daemon reads a request of any size through FrameReader (stdin relayed as one frame).
// Linear time is asserted as linear copying, which a loaded machine cannot blur: every byte of
// the stream may be copied a bounded number of times, never once per chunk that follows it.

function copiedWhile(fn: () => void): number {
  const concat = Buffer.concat
  let copied = 0
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    const out = concat(list, total)
    copied += out.length
    return out
  }) as typeof Buffer.concat
  try {
    fn()
  } finally {
    Buffer.concat = concat
  }
  return copied
}

describe('run daemon frame reader', () => {
  it('reads a 40 MB frame sent in 64 KiB chunks copying each byte at most twice', () => {
    const payload = Buffer.alloc(40e6, 0x61)
    const stream = Buffer.concat([frame('R', payload), frame('x', '0')])
    const reader = new FrameReader()
    const frames: Array<{type: string; payload: Buffer}> = []
    const copied = copiedWhile(() => {
      for (let at = 0; at < stream.length; at += 65536) frames.push(...reader.push(stream.subarray(at, at + 65536)))
    })
    assert.deepEqual(
      frames.map((f) => [f.type, f.payload.length]),
      [
        ['R', 40e6],
        ['x', 1],
      ],
    )
    assert.ok(frames[0].payload.equals(payload))
    assert.ok(copied <= 2 * stream.length, `copied ${copied} bytes for a stream of ${stream.length}`)
  })

  it('splits frames cut anywhere, headers included', () => {
    const stream = Buffer.concat([frame('o', 'hello'), frame('e', ''), frame('x', '5')])
    for (let size = 1; size <= stream.length; size++) {
      const reader = new FrameReader()
      const got: string[] = []
      for (let at = 0; at < stream.length; at += size)
        for (const f of reader.push(stream.subarray(at, at + size))) got.push(`${f.type}:${f.payload}`)
      assert.deepEqual(got, ['o:hello', 'e:', 'x:5'], `chunks of ${size}`)
    }
  })
})
