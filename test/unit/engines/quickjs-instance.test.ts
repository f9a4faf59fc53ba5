import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {newSandbox} from '../../../src/engines/quickjs/sandbox.js'

const LIMITS = {timeoutMs: 5000, memoryBytes: 64 * 1024 * 1024, maxOutputBytes: 1 << 20, maxLogBytes: 1 << 20}

// WebAssembly.instantiate of the compiled module waited 65-107 ms idle for a process's second
// instance (sandbox.ts); the synchronous constructor does not. Each sandbox is a fresh instance
// with its own memory, so nothing a script leaves in one is seen by the next.
describe('QuickJS instances', () => {
  it('are made without the async WebAssembly.instantiate, each with its own memory', async () => {
    const instantiate = WebAssembly.instantiate
    let asked = 0
    WebAssembly.instantiate = ((...args: Parameters<typeof instantiate>) => {
      asked++
      return instantiate(...args)
    }) as typeof instantiate
    try {
      const boxes = [await newSandbox(LIMITS), await newSandbox(LIMITS), await newSandbox(LIMITS)]
      assert.equal(asked, 0)
      boxes[0].ctx.unwrapResult(boxes[0].ctx.evalCode('globalThis.left = 41')).dispose()
      const seen = boxes.map((b) => b.ctx.dump(b.ctx.unwrapResult(b.ctx.evalCode('typeof left === "number" ? left + 1 : "fresh"'))))
      assert.deepEqual(seen, [42, 'fresh', 'fresh'])
      assert.equal(new Set(boxes.map((b) => b.memory)).size, 3)
    } finally {
      WebAssembly.instantiate = instantiate
    }
  })
})
