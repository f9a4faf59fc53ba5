import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {BurnError} from '../../../src/util/errors.js'
import {formatSize, parseCount, parseDuration, parseSize, scaleBytes} from '../../../src/util/units.js'
import {serializeElements, serializeResult} from '../../../src/util/result.js'

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
      assert.throws(
        () => parseSize(bad, '--memory'),
        (e: unknown) => e instanceof BurnError && e.exitCode === 2,
      )
    })
  }
  for (const bad of ['', 'soon', '-5s', '0', '0ms']) {
    it(`rejects duration ${JSON.stringify(bad)} as usage`, () => {
      assert.throws(
        () => parseDuration(bad, '--timeout'),
        (e: unknown) => e instanceof BurnError && e.exitCode === 2,
      )
    })
  }
})

describe('units: the strict grammar in front of bytes and ms', () => {
  const usage = (f: () => unknown) => assert.throws(f, (e: unknown) => e instanceof BurnError && e.exitCode === 2)
  it('sizes: human units, binary as in the bytes library', () => {
    assert.equal(parseSize('500MB', '--max-size'), 500 * 1024 ** 2)
    assert.equal(parseSize('500MiB', '--max-size'), 500 * 1024 ** 2)
    assert.equal(parseSize('2gb', '--max-size'), 2 * 1024 ** 3)
    assert.equal(parseSize('1.5KB', '--max-size'), 1536)
    assert.equal(parseSize('10 mb', '--max-size'), 10 * 1024 ** 2)
    assert.equal(parseSize('100B', '--max-size'), 100)
  })
  it('sizes: what bytes.parse would read leniently is refused', () => {
    for (const v of ['5MB/s', '10 apples', '0MB', '0.1', '5 XB', 'Infinity', '99999999999PB']) usage(() => parseSize(v, '--max-size'))
  })
  it('durations: human units; an age needs a unit', () => {
    assert.equal(parseDuration('12h', '--older-than', {unit: true}), 12 * 3_600_000)
    assert.equal(parseDuration('1.5h', '--older-than', {unit: true}), 5_400_000)
    assert.equal(parseDuration('2 weeks', '--older-than', {unit: true}), 14 * 86_400_000)
    assert.equal(parseDuration('500', '--timeout'), 500)
    usage(() => parseDuration('30', '--older-than', {unit: true}))
    for (const v of ['30 apples', '-1d', '0d', '1e3', 'd', '30d ago', '9999999999999999y']) usage(() => parseDuration(v, '--older-than'))
  })
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
  it('honours toJSON where JSON.stringify does, except on a BigInt', () => {
    assert.equal(serializeResult({f: Object.assign(() => 1, {toJSON: () => 'fn'})}), '{"f":"fn"}')
    const proto = BigInt.prototype as {toJSON?: () => string}
    proto.toJSON = function () {
      return String(this)
    }
    try {
      assert.throws(() => serializeResult({n: [1, 2n]}), /^Error: result is not JSON: a BigInt at \$\.n\[1\]$/)
      assert.equal(serializeResult({n: 1}), '{"n":1}')
    } finally {
      delete proto.toJSON
    }
  })
  it('refuses what stringify saw, even when a getter hides it from the walk', () => {
    let reads = 0
    const flip = {
      get g() {
        return reads++ === 0 ? () => 1 : 2
      },
    }
    assert.throws(() => serializeResult(flip), /^Error: result is not JSON: a value that changed while it was serialized at \$$/)
  })
  it('names a bad element by its index in a batch chunk', () => {
    assert.equal(serializeElements([{a: 1}, undefined, [2]]), '{"a":1}\nnull\n[2]')
    assert.throws(() => serializeElements([{a: 1}, {b: Symbol('x')}], ','), /^Error: result is not JSON: a symbol at \$\[1\]\.b$/)
    assert.throws(() => serializeElements([1, () => 2]), /^Error: result is not JSON: a function at \$\[1\]$/)
  })
  it('shared (non-cyclic) references are fine', () => {
    const s = {v: 1}
    assert.equal(serializeResult([s, s]), '[{"v":1},{"v":1}]')
  })
})

describe('units: exact messages and edges', () => {
  const message = (f: () => unknown) => {
    try {
      f()
    } catch (error) {
      assert.ok(error instanceof BurnError)
      assert.equal(error.exitCode, 2)
      return error.message
    }
    assert.fail('no error')
  }
  const SIZE_HINT = 'expected a positive size such as 64MiB, 500MB, 2GiB or 1048576'
  const DURATION_HINT = 'expected a positive duration such as 500ms, 5s, 12h or 30d'

  it('sizes: each refusal says why, naming the flag and the value', () => {
    assert.equal(
      message(() => parseSize('lots', '--memory')),
      `invalid --memory "lots": ${SIZE_HINT}`,
    )
    // a number too long for a double: Infinity bytes is not a size at all
    assert.equal(
      message(() => parseSize('9'.repeat(400), '--memory')),
      `invalid --memory "${'9'.repeat(400)}": ${SIZE_HINT}`,
    )
    assert.equal(
      message(() => parseSize('99999999999PB', '--max-size')),
      'invalid --max-size "99999999999PB": too large',
    )
    assert.equal(
      message(() => parseSize('9007199254740992', '--max-size')),
      'invalid --max-size "9007199254740992": too large',
    )
    assert.equal(
      message(() => parseSize('0.5', '--memory')),
      'invalid --memory "0.5": must be at least 1 byte',
    )
    assert.equal(
      message(() => parseSize('0MB', '--memory')),
      'invalid --memory "0MB": must be at least 1 byte',
    )
  })

  it('sizes: the largest safe size, whole bytes, blanks around, any case', () => {
    assert.equal(parseSize('9007199254740991', '--max-size'), 9007199254740991)
    assert.equal(parseSize('1.5', '--max-size'), 1)
    assert.equal(parseSize('1.9B', '--max-size'), 1)
    assert.equal(parseSize(' 2KiB\n', '--max-size'), 2048)
    assert.equal(parseSize('3kIb', '--max-size'), 3072)
    assert.equal(parseSize('1TiB', '--max-size'), 1024 ** 4)
    assert.equal(parseSize('1pb', '--max-size'), 1024 ** 5)
    assert.equal(parseSize('1.25KB', '--max-size'), 1280)
  })

  it('durations: each refusal says why, naming the flag and the value', () => {
    assert.equal(
      message(() => parseDuration('soon', '--timeout')),
      `invalid --timeout "soon": ${DURATION_HINT}`,
    )
    assert.equal(
      message(() => parseDuration('30 apples', '--timeout')),
      `invalid --timeout "30 apples": ${DURATION_HINT}`,
    )
    assert.equal(
      message(() => parseDuration('30', '--older-than', {unit: true})),
      'invalid --older-than "30": give a unit, such as 30d or 30h',
    )
    assert.equal(
      message(() => parseDuration('9999999999999999y', '--older-than')),
      'invalid --older-than "9999999999999999y": too large',
    )
    assert.equal(
      message(() => parseDuration('9007199254740992', '--timeout')),
      'invalid --timeout "9007199254740992": too large',
    )
    assert.equal(
      message(() => parseDuration('0d', '--older-than')),
      'invalid --older-than "0d": must be longer than zero',
    )
    assert.equal(
      message(() => parseDuration('0', '--timeout')),
      'invalid --timeout "0": must be longer than zero',
    )
  })

  it('durations: the largest safe one, blanks around, a bare number with no unit option', () => {
    assert.equal(parseDuration('9007199254740991', '--timeout'), 9007199254740991)
    assert.equal(parseDuration(' 5s\n', '--timeout'), 5000)
    assert.equal(parseDuration('30', '--older-than', {}), 30)
    assert.equal(parseDuration('2d', '--older-than', {unit: true}), 2 * 86_400_000)
    assert.equal(parseDuration('1.25h', '--older-than'), 4_500_000)
    assert.equal(
      message(() => parseDuration('9'.repeat(400), '--timeout')),
      `invalid --timeout "${'9'.repeat(400)}": ${DURATION_HINT}`,
    )
  })

  it('counts: positive safe whole numbers only', () => {
    assert.equal(parseCount('3', '--jobs'), 3)
    assert.equal(parseCount(' 12 ', '--jobs'), 12)
    assert.equal(parseCount('9007199254740991', '--jobs'), 9007199254740991)
    for (const bad of ['0', '-1', '1.5', 'x', '', '1e3', '9007199254740992', '3 4']) {
      assert.equal(
        message(() => parseCount(bad, '--jobs')),
        `invalid --jobs ${JSON.stringify(bad)}: expected a positive whole number`,
      )
    }
  })

  it('formats sizes in the largest binary unit reached, one decimal when not whole', () => {
    assert.equal(scaleBytes(1023), undefined)
    assert.deepEqual(scaleBytes(1024), {value: 1, unit: 'KiB'})
    assert.deepEqual(scaleBytes(1536), {value: 1.5, unit: 'KiB'})
    assert.deepEqual(scaleBytes(1024 ** 2), {value: 1, unit: 'MiB'})
    assert.deepEqual(scaleBytes(1024 ** 2 - 1024), {value: 1023, unit: 'KiB'})
    assert.deepEqual(scaleBytes(1024 ** 5), {value: 1024, unit: 'TiB'})
    assert.equal(formatSize(0), '0 bytes')
    assert.equal(formatSize(1023), '1023 bytes')
    assert.equal(formatSize(1024), '1KiB')
    assert.equal(formatSize(1.5 * 1024 ** 3), '1.5GiB')
    assert.equal(formatSize(1024 ** 3 + 1), '1.0GiB')
    assert.equal(formatSize(3 * 1024 ** 4), '3TiB')
    assert.equal(formatSize(1024 ** 5), '1024TiB')
  })
})
