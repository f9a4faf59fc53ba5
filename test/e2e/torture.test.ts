import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {torture} from '../torture/harness.js'

// The short setting of the torture harness (the long one: `npm run torture`, figures in README).
describe('torture (short)', () => {
  it('random register/run/batch/forget/gc with SIGKILLs: no wrong result, no unexpected exit, a clean store', async () => {
    const seed = Number(process.env.BURN_TORTURE_SEED) || Date.now() % 1_000_000
    const rep = await torture({seconds: Number(process.env.BURN_TORTURE_SECONDS) || 45, workers: 4, scripts: 8, killRate: 0.2, seed})
    const summary = JSON.stringify({...rep, problems: rep.problems.slice(0, 10)}, null, 1)
    assert.equal(rep.wrongResults, 0, summary)
    assert.equal(rep.unexpectedExits, 0, summary)
    assert.ok(rep.kills + rep.faultKills >= Math.floor(rep.operations * 0.1), `at least 10% killed: ${summary}`)
    assert.equal(rep.finalGcExit, 0, summary)
    assert.equal(rep.finalVerifyExit, 0, summary)
    assert.equal(rep.finalRunsCorrect, rep.finalRunsTotal, summary)
    assert.ok(rep.statsSane, summary)
  })
})
