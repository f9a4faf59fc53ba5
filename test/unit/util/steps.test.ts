import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {runSteps} from '../../../src/util/steps.js'

describe('runSteps', () => {
  it('runs each step once, in order, on the one context, and times each under its function name', async () => {
    const ctx = {seen: [] as string[]}
    async function first(c: typeof ctx) {
      c.seen.push('first')
    }
    async function slow(c: typeof ctx) {
      await new Promise((r) => setTimeout(r, 30))
      c.seen.push('slow')
    }
    const timings = await runSteps([first, slow, first], ctx)
    assert.deepEqual(ctx.seen, ['first', 'slow', 'first'])
    assert.deepEqual(
      timings.map((t) => t.step),
      ['first', 'slow', 'first'],
    )
    assert.ok(timings[1].ms >= 25 && timings[1].ms < 5000, String(timings[1].ms))
    assert.ok(timings[0].ms < timings[1].ms)
  })

  it('stops at a step that throws, and the error is the step own', async () => {
    const ran: string[] = []
    const boom = new Error('boom')
    await assert.rejects(
      runSteps(
        [
          async () => void ran.push('a'),
          async () => {
            throw boom
          },
          async () => void ran.push('c'),
        ],
        {},
      ),
      (e) => e === boom,
    )
    assert.deepEqual(ran, ['a'])
  })
})
