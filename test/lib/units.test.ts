import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {BurnError} from '../../src/lib/errors.js'
import {formatSize, parseDuration, parseSize} from '../../src/lib/units.js'
import {serializeResult} from '../../src/lib/result.js'

describe('units', () => {
  it('parses human sizes (binary) and durations', () => {
    assert.equal(parseSize('64MiB', '--memory'), 64 * 1024 * 1024)
    assert.equal(parseSize('64MB', '--memory'), 64 * 1024 * 1024)
    assert.equal(parseSize('2GiB', '--max-size'), 2 * 1024 ** 3)
    assert.equal(parseSize('1048576', '--memory'), 1048576)
    assert.equal(parseDuration('500ms', '--timeout'), 500)
    assert.equal(parseDuration('5s', '--timeout'), 5000)
    assert.equal(parseDuration('30d', '--older-than'), 30 * 86400_000)
    assert.equal(formatSize(64 * 1024 * 1024), '64MiB')
    assert.equal(formatSize(1000), '1000 bytes')
  })
  for (const bad of ['', 'lots', '-1MB', '0', '1e9', 'MB', '1.5.5MB']) {
    it(`rejects size ${JSON.stringify(bad)} as usage`, () => {
      assert.throws(() => parseSize(bad, '--memory'), (e: unknown) => e instanceof BurnError && e.exitCode === 2)
    })
  }
  for (const bad of ['', 'soon', '-5s', '0', '0ms']) {
    it(`rejects duration ${JSON.stringify(bad)} as usage`, () => {
      assert.throws(() => parseDuration(bad, '--timeout'), (e: unknown) => e instanceof BurnError && e.exitCode === 2)
    })
  }
})

describe('result serialization', () => {
  it('is JSON, with undefined -> null and toJSON honoured', () => {
    assert.equal(serializeResult(undefined), 'null')
    assert.equal(serializeResult({a: undefined, b: [undefined], d: new Date(0)}), '{"b":[null],"d":"1970-01-01T00:00:00.000Z"}')
  })
  it('names the path of what JSON cannot hold', () => {
    assert.throws(() => serializeResult({x: [{y: 1n}]}), /a BigInt at \$\.x\[0\]\.y/)
    assert.throws(() => serializeResult({'a b': () => 1}), /a function at \$\["a b"\]/)
    const c: Record<string, unknown> = {}
    c.me = c
    assert.throws(() => serializeResult(c), /a cycle at \$\.me/)
  })
  it('shared (non-cyclic) references are fine', () => {
    const s = {v: 1}
    assert.equal(serializeResult([s, s]), '[{"v":1},{"v":1}]')
  })
})
