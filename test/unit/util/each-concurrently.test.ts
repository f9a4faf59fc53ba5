import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {eachConcurrently} from '../../../src/util/each-concurrently.js'

const tick = () => new Promise((r) => setImmediate(r))

describe('eachConcurrently', () => {
  it('starts items in order, never more than `width` at once, and calls each exactly once', async () => {
    const started: number[] = []
    let inFlight = 0
    let peak = 0
    await eachConcurrently([10, 11, 12, 13, 14, 15, 16], 3, async (item, i) => {
      assert.equal(item, 10 + i)
      started.push(i)
      peak = Math.max(peak, ++inFlight)
      for (let k = 0; k < (i % 3) + 1; k++) await tick()
      inFlight--
    })
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6])
    assert.equal(peak, 3)
  })

  it('starts nothing new once more() is false, and lets the calls in flight finish', async () => {
    const done: number[] = []
    let budget = 4
    await eachConcurrently(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      2,
      async (i) => {
        budget--
        await tick()
        done.push(i)
      },
      () => budget > 0,
    )
    assert.deepEqual(done, [0, 1, 2, 3])
  })

  it('runs one at a time for a width below 1, and handles no items', async () => {
    let inFlight = 0
    let peak = 0
    await eachConcurrently([1, 2, 3], 0, async () => {
      peak = Math.max(peak, ++inFlight)
      await tick()
      inFlight--
    })
    assert.equal(peak, 1)
    await eachConcurrently([], 4, async () => assert.fail('called for no item'))
  })
})
