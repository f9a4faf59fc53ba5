import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ALWAYS_SHOWN, compareCounters, counterLabel, COUNTERS} from '../../../src/store/stats/counters.js'
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
    assert.equal(counterLabel('api.ok'), 'api.ok')
    assert.equal(counterLabel('api.limit.timeout'), 'api.limit.timeout')
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
    // a module body run ahead (engines/warm.ts): counted whether the store's lookup hit or not
    assert.deepEqual(resultCounters({ok: true, cache: 'miss', compileMs: 0, runMs: 1, preloaded: true, warm: true}), {
      misses: 1,
      warmHits: 1,
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
    // the library API's calls (src/api/): none looked in the store when the runner kept the script
    assert.deepEqual(resultCounters({ok: true, cache: 'none', compileMs: 0, runMs: 1}, 'api'), {'api.ok': 1})
    assert.deepEqual(resultCounters({ok: false, error: {kind: 'limit', limit: 'timeout', message: 'x'}}, 'api'), {'api.limit.timeout': 1})
  })
})

describe('counters table: every label, order and count', () => {
  it('labels every labelled counter with its own words', () => {
    const labelled = COUNTERS.filter((c) => 'label' in c).map((c) => [c.id, counterLabel(c.id)])
    assert.deepEqual(labelled, [
      ['register.hits', 'register hits'],
      ['register.misses', 'register misses (compiled)'],
      ['compiles', 'compiles'],
      ['compileFailures', 'compile failures'],
      ['compileMs', 'time compiling (ms)'],
      ['codeCacheRejections', 'code caches V8 rejected'],
      ['hits', 'hits (register + run)'],
      ['misses', 'misses (register + run)'],
      ['runs.ok', 'runs ok'],
      ['runs.script', 'runs: script threw'],
      ['runs.badData', 'runs: bad data'],
      ['runs.notFound', 'runs: script gone meanwhile'],
      ['daemon.fallbacks', 'run daemon fallbacks (ran directly)'],
      ['batch.rows', 'batch rows'],
      ['remote.hits', 'remote hits (fetched, verified, stored)'],
      ['remote.memoHits', 'remote hits: memoized results (run --memo)'],
      ['remote.misses', 'remote misses'],
      ['remote.errors', 'remote errors (then off for the process)'],
      ['remote.rejected', 'remote values rejected (failed a check)'],
      ['remote.skipped', "remote lookups skipped (the run daemon's cooldown)"],
      ['remote.published', 'remote values published'],
      ['remote.bytesIn', 'remote bytes fetched'],
      ['remote.bytesOut', 'remote bytes published'],
      ['memo.hits', 'memo hits (stored result printed, script not run)'],
      ['memo.misses', 'memo misses (script run)'],
      ['memo.stored', 'memo results stored'],
    ])
    assert.deepEqual(
      COUNTERS.filter((c) => !('label' in c)).map((c) => [c.id, c.always, counterLabel(c.id)]),
      [
        ['codeCacheUpgrades', false, 'codeCacheUpgrades'],
        ['preloadedHits', false, 'preloadedHits'],
        ['warmHits', false, 'warmHits'],
        ['batch.runs', false, 'batch.runs'],
        ['batch.rowsOut', false, 'batch.rowsOut'],
      ],
    )
    assert.equal(counterLabel('runs.limit.'), 'runs: limit ')
    assert.equal(counterLabel('xruns.limit.fuel'), 'xruns.limit.fuel')
  })

  it('puts unlabelled runs.* right after runs.notFound, and breaks ties by id', () => {
    const ids = ['zz', 'batch.rows', 'runs.b', 'runs.notFound', 'runs.a', 'runs.badData', 'aa', 'runsx']
    assert.deepEqual([...ids].sort(compareCounters), [
      'runs.badData',
      'runs.notFound',
      'runs.a',
      'runs.b',
      'batch.rows',
      'aa',
      'runsx',
      'zz',
    ])
    assert.equal(compareCounters('hits', 'hits'), 0)
    assert.ok(compareCounters('register.hits', 'register.misses') < 0)
    assert.ok(compareCounters('b', 'a') > 0)
  })

  it('counts each cache outcome and compile exactly', () => {
    const script = {kind: 'script', message: 'x'} as const
    assert.deepEqual(resultCounters({ok: true, cache: 'hit', compileMs: 0, runMs: 1, cachedData: new Uint8Array(0)}), {
      hits: 1,
      codeCacheUpgrades: 1,
      'runs.ok': 1,
    })
    assert.deepEqual(resultCounters({ok: true, cache: 'hit', compileMs: 0, runMs: 1, preloaded: false}), {hits: 1, 'runs.ok': 1})
    assert.deepEqual(resultCounters({ok: false, cache: 'hit', error: script}), {hits: 1, 'runs.script': 1})
    assert.deepEqual(resultCounters({ok: true, cache: 'none', compileMs: 0, runMs: 1, preloaded: true}), {'runs.ok': 1})
    assert.deepEqual(resultCounters({ok: false, error: {kind: 'badData', message: 'x'}}), {'runs.badData': 1})
    assert.deepEqual(resultCounters({ok: true, cache: 'miss', compileMs: 4, runMs: 1}), {misses: 1, 'runs.ok': 1})
    assert.deepEqual(resultCounters({ok: true, cache: 'corrupt', compileMs: 2.4, runMs: 1, cachedData: new Uint8Array(0)}), {
      misses: 1,
      compiles: 1,
      compileMs: 2,
      'runs.ok': 1,
    })
    assert.deepEqual(resultCounters({ok: false, cache: 'miss', cachedData: new Uint8Array(1), error: script}, 'batch.chunks'), {
      misses: 1,
      compiles: 1,
      compileMs: 0,
      'batch.chunks.script': 1,
    })
    assert.deepEqual(resultCounters({ok: false, error: {kind: 'limit', limit: 'timeout', message: 'x'}}), {'runs.limit.timeout': 1})
  })
})
