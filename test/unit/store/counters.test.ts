import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ALWAYS_SHOWN, compareCounters, counterLabel} from '../../../src/store/stats/counters.js'
import {resultCounters} from '../../../src/store/outcome.js'

describe('counters table', () => {
  it('shows the same counters at 0 in every report, in table order', () => {
    assert.deepEqual(ALWAYS_SHOWN, [
      'register.hits',
      'register.misses',
      'compiles',
      'compileFailures',
      'compileMs',
      'codeCacheRejections',
      'hits',
      'misses',
      'runs.ok',
      'runs.script',
      'runs.badData',
      'batch.rows',
    ])
  })

  it('labels known counters, runs.limit.* by their limit, the rest by id', () => {
    assert.equal(counterLabel('register.misses'), 'register misses (compiled)')
    assert.equal(counterLabel('runs.notFound'), 'runs: script gone meanwhile')
    assert.equal(counterLabel('runs.limit.timeout'), 'runs: limit timeout')
    assert.equal(counterLabel('runs.daemon.other'), 'runs.daemon.other')
    assert.equal(counterLabel('batch.chunks.ok'), 'batch.chunks.ok')
    assert.equal(counterLabel('somethingNew'), 'somethingNew')
  })

  it('orders the stats table: labelled in table order, other runs.* before batch rows, the rest last', () => {
    const ids = [
      'zeta',
      'batch.chunks.ok',
      'batch.rows',
      'runs.limit.timeout',
      'runs.daemon.other',
      'runs.ok',
      'preloadedHits',
      'hits',
      'register.hits',
      'runs.compile',
      'codeCacheUpgrades',
    ]
    assert.deepEqual(ids.sort(compareCounters), [
      'register.hits',
      'hits',
      'runs.ok',
      'runs.compile',
      'runs.daemon.other',
      'runs.limit.timeout',
      'batch.rows',
      'batch.chunks.ok',
      'codeCacheUpgrades',
      'preloadedHits',
      'zeta',
    ])
  })

  it('counts a call: hit or miss, compile, and its outcome in its family', () => {
    assert.deepEqual(resultCounters({ok: true, cache: 'hit', compileMs: 0, runMs: 1, preloaded: true}), {
      hits: 1,
      preloadedHits: 1,
      'runs.ok': 1,
    })
    const miss = {ok: false, cache: 'rejected', cachedData: new Uint8Array(1), compileMs: 2.6} as const
    assert.deepEqual(resultCounters({...miss, error: {kind: 'limit', limit: 'fuel', message: 'x'}}, 'batch.chunks'), {
      misses: 1,
      codeCacheRejections: 1,
      compiles: 1,
      compileMs: 3,
      'batch.chunks.limit.fuel': 1,
    })
  })
})
