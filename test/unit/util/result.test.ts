import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {
  checkedStringify,
  findUnserializable,
  notJsonError,
  serializeElements,
  serializeResult,
  SerializeError,
} from '../../../src/util/result.js'

// The contract's serialization, case by case (the broad cases are in units.test.ts).
describe('result serialization: paths and kinds', () => {
  const notJson = (f: () => unknown, message: string, path: string) =>
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof SerializeError)
      assert.equal(e.message, message)
      assert.equal(e.path, path)
      return true
    })

  it('names each kind JSON cannot hold, with its path through objects and arrays', () => {
    notJson(() => serializeResult({a: {b: [1, {c: Symbol('s')}]}}), 'result is not JSON: a symbol at $.a.b[1].c', '$.a.b[1].c')
    notJson(() => serializeResult({_x$1: 1n}), 'result is not JSON: a BigInt at $._x$1', '$._x$1')
    notJson(() => serializeResult({'1a': [() => 1]}), 'result is not JSON: a function at $["1a"][0]', '$["1a"][0]')
    notJson(() => serializeResult({'a-b': 1n}), 'result is not JSON: a BigInt at $["a-b"]', '$["a-b"]')
    notJson(() => serializeResult({'x.y': Symbol()}), 'result is not JSON: a symbol at $["x.y"]', '$["x.y"]')
    notJson(() => serializeResult(1n), 'result is not JSON: a BigInt at $', '$')
    const a: unknown[] = [1]
    a.push(a)
    notJson(() => serializeResult(a), 'result is not JSON: a cycle at $[1]', '$[1]')
  })

  it('a toJSON that returns what JSON cannot hold is named at its owner', () => {
    notJson(() => serializeResult({x: {toJSON: () => () => 1}}), 'result is not JSON: a function at $.x', '$.x')
    notJson(() => serializeResult([{toJSON: () => Symbol('t')}]), 'result is not JSON: a symbol at $[0]', '$[0]')
  })

  it('notJsonError builds the SerializeError of a problem', () => {
    const e = notJsonError({what: 'a BigInt', path: '$.n'})
    assert.ok(e instanceof SerializeError)
    assert.equal(e.message, 'result is not JSON: a BigInt at $.n')
    assert.equal(e.path, '$.n')
  })

  it('plain values, null and undefined members are JSON as JSON.stringify writes them', () => {
    assert.equal(serializeResult(null), 'null')
    assert.equal(serializeResult('s'), '"s"')
    assert.equal(serializeResult([undefined, null, 1.5, true]), '[null,null,1.5,true]')
    assert.equal(serializeResult({u: undefined, n: null, o: {}}), '{"n":null,"o":{}}')
  })
})

describe('findUnserializable', () => {
  it('finds nothing in JSON values, undefined included', () => {
    for (const v of [undefined, null, 0, 'x', true, [], {}, {a: [1, {b: null}], c: undefined}])
      assert.equal(findUnserializable(v), undefined)
  })

  it('calls toJSON with the key, as JSON.stringify does', () => {
    const keyed = (bad: string) => ({toJSON: (key: string) => (key === bad ? 1n : 1)})
    assert.deepEqual(findUnserializable({k: keyed('k')}), {what: 'a BigInt', path: '$.k'})
    assert.equal(findUnserializable({k: keyed('j')}), undefined)
    assert.deepEqual(findUnserializable([keyed('1'), keyed('1')]), {what: 'a BigInt', path: '$[1]'})
    assert.deepEqual(findUnserializable(keyed('')), {what: 'a BigInt', path: '$'})
  })

  it('a function with a toJSON is its toJSON; a BigInt with none is still a BigInt', () => {
    assert.equal(findUnserializable({f: Object.assign(() => 1, {toJSON: () => 'fn'})}), undefined)
    assert.deepEqual(findUnserializable({f: () => 1}), {what: 'a function', path: '$.f'})
  })

  it('a value seen twice on different branches is no cycle', () => {
    const s = {v: 1}
    assert.deepEqual(findUnserializable({a: s, b: [s, 1n]}), {what: 'a BigInt', path: '$.b[1]'})
    assert.equal(findUnserializable([[s], [s]]), undefined)
  })

  it('only own enumerable keys count, as for JSON.stringify', () => {
    assert.equal(findUnserializable(Object.create({f: () => 1})), undefined)
    assert.equal(findUnserializable(Object.defineProperty({}, 'f', {value: () => 1, enumerable: false})), undefined)
  })

  it('starts its paths at rootPath; tooDeep decides which errors mean "too deep"', () => {
    assert.deepEqual(findUnserializable({b: 1n}, undefined, '$[3]'), {what: 'a BigInt', path: '$[3].b'})
    const throwing = {
      get g() {
        throw new Error('boom')
      },
    }
    assert.throws(() => findUnserializable({x: throwing}), /^Error: boom$/)
    assert.deepEqual(
      findUnserializable({x: throwing}, ((e: unknown) => (e as Error).message === 'boom') as (e: unknown) => e is RangeError, '$[2]'),
      {what: 'nesting too deep to serialize', path: '$[2]'},
    )
  })

  it('names nesting too deep for the stack at the root', () => {
    let deep: unknown[] = []
    for (let i = 0; i < 100_000; i++) deep = [deep]
    assert.deepEqual(findUnserializable(deep), {what: 'nesting too deep to serialize', path: '$'})
  })
})

describe('checkedStringify', () => {
  const noFind = () => assert.fail('find called')
  const boom = new RangeError('boom')

  it('one checked pass when nothing is wrong; undefined is null', () => {
    assert.equal(checkedStringify({a: 1}, JSON.stringify, noFind, false), '{"a":1}')
    assert.equal(checkedStringify(undefined, JSON.stringify, noFind, false), 'null')
  })

  it('walks first when BigInts have a toJSON', () => {
    const found = {what: 'a BigInt', path: '$.n'}
    assert.equal(
      checkedStringify(
        {n: 1n},
        () => assert.fail('stringify called'),
        () => found,
        true,
      ),
      found,
    )
    assert.equal(
      checkedStringify({n: 1}, JSON.stringify, () => undefined, true),
      '{"n":1}',
    )
  })

  it('a function or symbol the replacer saw is named by find, or reported as changed', () => {
    assert.deepEqual(checkedStringify({f: () => 1}, JSON.stringify, findUnserializable, false), {what: 'a function', path: '$.f'})
    assert.deepEqual(checkedStringify([Symbol()], JSON.stringify, findUnserializable, false), {what: 'a symbol', path: '$[0]'})
    assert.deepEqual(
      checkedStringify({f: () => 1}, JSON.stringify, () => undefined, false),
      {
        what: 'a value that changed while it was serialized',
        path: '$',
      },
    )
  })

  it('a throwing pass: find names the value, else one more checked pass decides', () => {
    const found = {what: 'a cycle', path: '$.me'}
    assert.equal(
      checkedStringify(
        {},
        () => {
          throw boom
        },
        () => found,
        false,
      ),
      found,
    )
    let calls = 0
    const once = ((v: unknown, r?: (k: string, v: unknown) => unknown) => {
      if (calls++ === 0) throw boom
      return JSON.stringify(v, r as never)
    }) as typeof JSON.stringify
    assert.equal(
      checkedStringify({a: 1}, once, () => undefined, false),
      '{"a":1}',
    )
    assert.equal(calls, 2)
  })

  it('a second throwing pass: plainWhen chooses a plain stringify, else the error stands', () => {
    const withReplacerOnly = ((v: unknown, r?: unknown) => {
      if (r) throw boom
      return v === undefined ? undefined : 'plain'
    }) as typeof JSON.stringify
    const isBoom = (e: unknown) => e === boom
    assert.equal(
      checkedStringify({a: 1}, withReplacerOnly, () => undefined, false, isBoom),
      'plain',
    )
    assert.equal(
      checkedStringify(undefined, withReplacerOnly, () => undefined, false, isBoom),
      'null',
    )
    assert.throws(
      () => checkedStringify({a: 1}, withReplacerOnly, () => undefined, false),
      (e) => e === boom,
    )
    assert.throws(
      () =>
        checkedStringify(
          {a: 1},
          withReplacerOnly,
          () => undefined,
          false,
          () => false,
        ),
      (e) => e === boom,
    )
  })
})

describe('serializeElements', () => {
  it('joins with a newline by default, names a bad element by its index', () => {
    assert.equal(serializeElements([1, 'a', null]), '1\n"a"\nnull')
    assert.equal(serializeElements([]), '')
    assert.equal(serializeElements([{a: [1]}], ','), '{"a":[1]}')
    assert.throws(() => serializeElements([1, 2, 3n]), /^Error: result is not JSON: a BigInt at \$\[2\]$/)
    assert.throws(() => serializeElements([Symbol()]), /^Error: result is not JSON: a symbol at \$\[0\]$/)
    assert.throws(() => serializeElements([{a: [1, {b: [1n]}]}]), /^Error: result is not JSON: a BigInt at \$\[0\]\.a\[1\]\.b\[0\]$/)
    assert.throws(() => serializeElements([[[() => 1]]]), /^Error: result is not JSON: a function at \$\[0\]\[0\]\[0\]$/)
    assert.throws(() => serializeElements([{s: Symbol()}]), /^Error: result is not JSON: a symbol at \$\[0\]\.s$/)
  })

  it('honours toJSON in an element, and names what it returns', () => {
    // an inherited toJSON, and a lone BigInt with no other value beside it
    assert.throws(() => serializeElements([Object.create({toJSON: () => 1n})]), /^Error: result is not JSON: a BigInt at \$\[0\]$/)
    assert.throws(() => serializeElements([{n: 1n}]), /^Error: result is not JSON: a BigInt at \$\[0\]\.n$/)
    assert.equal(serializeElements([new Date(0), {toJSON: () => 'x'}]), '"1970-01-01T00:00:00.000Z"\n"x"')
    assert.throws(() => serializeElements([1, {t: {toJSON: () => 1n}}]), /^Error: result is not JSON: a BigInt at \$\[1\]\.t$/)
  })

  it('a cycle in an element is named, deep nesting that is no cycle is written', () => {
    const a: unknown[] = []
    a.push(a)
    assert.throws(() => serializeElements([a]), /^Error: result is not JSON: a cycle at \$\[0\]\[0\]$/)
    let deep: unknown = 1
    for (let i = 0; i < 300; i++) deep = [deep]
    assert.equal(serializeElements([deep]), '['.repeat(300) + '1' + ']'.repeat(300))
  })
})
