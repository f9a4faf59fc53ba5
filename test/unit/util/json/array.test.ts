import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {BurnError} from '../../../../src/util/errors.js'
import {isBlankByte, JsonArrayScanner, splitArrayText} from '../../../../src/util/json/array.js'

interface Element {
  text: string
  line: number
  last: boolean
}

/**
 * Scans `text` cut into the given pieces and returns the elements found, by absolute offsets
 * (as json-chunks.ts keeps them), the scanner's counters, and the error finish() threw, if any.
 */
function scanPieces(text: string, cuts: number[]) {
  const bytes = Buffer.from(text)
  const elements: Element[] = []
  let base = 0
  let open: {start: number; line: number} | undefined
  const scanner = new JsonArrayScanner({
    start(offset, line) {
      assert.equal(open, undefined, 'start twice without an end')
      open = {start: base + offset, line}
    },
    end(offset, last) {
      assert.ok(open, 'end without a start')
      elements.push({text: bytes.subarray(open.start, base + offset).toString('utf8'), line: open.line, last})
      open = undefined
    },
  })
  let from = 0
  for (const cut of [...cuts, bytes.length]) {
    scanner.scan(bytes.subarray(from, cut))
    base = cut
    from = cut
  }
  scanner.finish()
  return {elements, count: scanner.count, closed: scanner.closed, line: scanner.line}
}

const scanAll = (text: string) => scanPieces(text, [])

/** The error `scan` or `finish` throws for `text`, given whole. */
function scanError(text: string | Buffer): BurnError {
  const scanner = new JsonArrayScanner({start() {}, end() {}})
  try {
    scanner.scan(typeof text === 'string' ? Buffer.from(text) : text)
    scanner.finish()
  } catch (error) {
    assert.ok(error instanceof BurnError)
    return error
  }
  assert.fail(`no error for ${JSON.stringify(text.toString())}`)
}

// Strings with escaped quotes, backslashes and brackets; nested arrays and objects; blanks and
// newlines between elements and inside one; a multi-byte character.
const TRICKY =
  ' \r\n[ {"a":"x\\"]y","b":[1,{"c":"}{,"}]} ,\n' +
  '"q\\\\",\t"\\\\\\"]", [[],\n[[]]],\n' +
  '  {"n":null,"s":"[ ,\\n ]"}, "é€",\n' +
  '-1.5e3 ,true]\r\n \n'

const TRICKY_ELEMENTS: Element[] = [
  {text: '{"a":"x\\"]y","b":[1,{"c":"}{,"}]} ', line: 2, last: false},
  {text: '"q\\\\"', line: 3, last: false},
  {text: '"\\\\\\"]"', line: 3, last: false},
  {text: '[[],\n[[]]]', line: 3, last: false},
  {text: '{"n":null,"s":"[ ,\\n ]"}', line: 5, last: false},
  {text: '"é€"', line: 5, last: false},
  {text: '-1.5e3 ', line: 6, last: false},
  {text: 'true', line: 6, last: true},
]

describe('JsonArrayScanner', () => {
  it('finds the elements of an array with strings, escapes, nesting and blanks, verbatim and with their lines', () => {
    const r = scanAll(TRICKY)
    assert.deepEqual(r.elements, TRICKY_ELEMENTS)
    assert.deepEqual(
      r.elements.map((e) => JSON.parse(e.text)),
      JSON.parse(TRICKY),
    )
    assert.equal(r.count, 8)
    assert.equal(r.closed, true)
    assert.equal(r.line, 8)
  })

  it('finds the same elements whatever byte the input is cut at', () => {
    const length = Buffer.byteLength(TRICKY)
    for (let cut = 0; cut <= length; cut++) {
      assert.deepEqual(scanPieces(TRICKY, [cut]).elements, TRICKY_ELEMENTS, `cut at byte ${cut}`)
    }
  })

  it('finds the same elements when cut twice, at every pair of bytes, and one byte at a time', () => {
    const length = Buffer.byteLength(TRICKY)
    for (let a = 0; a <= length; a++) {
      for (let b = a; b <= length; b++) {
        assert.deepEqual(scanPieces(TRICKY, [a, b]).elements, TRICKY_ELEMENTS, `cut at bytes ${a} and ${b}`)
      }
    }
    const everyByte = Array.from({length}, (_, i) => i)
    assert.deepEqual(scanPieces(TRICKY, everyByte).elements, TRICKY_ELEMENTS)
  })

  it('keeps an escaped backslash before a quote apart from an escaped quote across a cut', () => {
    // "a\\" ends the string at its last quote; "a\"" does not
    const text = '["a\\\\",2,"b\\",]",3]'
    const expected = [
      {text: '"a\\\\"', line: 1, last: false},
      {text: '2', line: 1, last: false},
      {text: '"b\\",]"', line: 1, last: false},
      {text: '3', line: 1, last: true},
    ]
    for (let cut = 0; cut <= text.length; cut++) assert.deepEqual(scanPieces(text, [cut]).elements, expected, `cut at ${cut}`)
  })

  it('reads an empty array, with or without blanks, as no elements', () => {
    for (const text of ['[]', ' [ ] ', '\n[\n\t\r\n]\n\n']) {
      const r = scanAll(text)
      assert.deepEqual(r.elements, [])
      assert.equal(r.count, 0)
      assert.equal(r.closed, true)
    }
    assert.equal(scanAll('\n[\n\t\r\n]\n\n').line, 6)
  })

  it('leaves a stray closing brace inside its element (the runner reports it as invalid JSON)', () => {
    assert.deepEqual(scanAll('[1},{"a":2}}]').elements, [
      {text: '1}', line: 1, last: false},
      {text: '{"a":2}}', line: 1, last: true},
    ])
  })

  it('rejects an input that is not an array', () => {
    const e = scanError('\n  {"a":1}')
    assert.equal(e.message, "input must be a JSON array; it starts with '{' at line 2")
    assert.equal(e.kind, 'badData')
    assert.equal(e.exitCode, 7)
    assert.deepEqual(e.data, {line: 2})
    assert.equal(scanError(Buffer.from([0x01, 0x5b, 0x5d])).message, 'input must be a JSON array; it starts with byte 0x01 at line 1')
    assert.equal(scanError(Buffer.from([0xc3, 0xa9])).message, 'input must be a JSON array; it starts with byte 0xc3 at line 1')
  })

  it('rejects an empty or blank input', () => {
    for (const text of ['', ' \n\t\r\n']) {
      const e = scanError(text)
      assert.equal(e.message, 'input must be a JSON array; the input is empty')
      assert.deepEqual(e.data, {})
    }
  })

  it('rejects data after the closing bracket', () => {
    const e = scanError('[1,2]\n\n[3]\n')
    assert.equal(
      e.message,
      'unexpected data after the JSON array at line 3; if the input is NDJSON whose rows are arrays, pass --input-format ndjson',
    )
    assert.deepEqual(e.data, {line: 3})
    assert.equal(
      scanError('[] x').message,
      'unexpected data after the JSON array at line 1; if the input is NDJSON whose rows are arrays, pass --input-format ndjson',
    )
  })

  it('rejects a missing element, naming its row', () => {
    const cases: Array<[string, string, Record<string, unknown>]> = [
      ['[,1]', "invalid JSON array at line 1: expected a value before ',' (row 1)", {line: 1, row: 1}],
      ['[1,\n,2]', "invalid JSON array at line 2: expected a value before ',' (row 2)", {line: 2, row: 2}],
      ['[1,2,\n]', "invalid JSON array at line 2: expected a value before ']' (row 3)", {line: 2, row: 3}],
    ]
    for (const [text, message, data] of cases) {
      const e = scanError(text)
      assert.equal(e.message, message)
      assert.deepEqual(e.data, data)
    }
  })

  it('rejects a truncated array, naming where the input ends', () => {
    const cases: Array<[string, string]> = [
      ['[', 'the JSON array is not closed: the input ends at line 1 (row 0)'],
      ['[1,2', 'the JSON array is not closed: the input ends at line 1 (row 2)'],
      ['[1,\n2,\n', 'the JSON array is not closed: the input ends at line 3 (row 2)'],
      ['[1,{"a":[\n', 'the JSON array is not closed: the input ends at line 2 (row 2)'],
      ['[1,"ab\\"', 'the JSON array is not closed: the input ends at line 1 inside a string (row 2)'],
    ]
    for (const [text, message] of cases) {
      const e = scanError(text)
      assert.equal(e.message, message)
      assert.equal(e.kind, 'badData')
    }
    assert.deepEqual(scanError('[1,\n2,\n').data, {line: 3})
  })

  it('reports the elements before an error, then the error', () => {
    const ends: number[] = []
    const scanner = new JsonArrayScanner({start() {}, end: (offset) => ends.push(offset)})
    assert.throws(() => scanner.scan(Buffer.from('[1,22,,3]')), {
      message: "invalid JSON array at line 1: expected a value before ',' (row 3)",
    })
    assert.deepEqual(ends, [2, 5])
    assert.equal(scanner.count, 2)
  })
})

describe('splitArrayText', () => {
  it('returns the element texts and lines of an array text', () => {
    assert.deepEqual(splitArrayText('[1,\n {"a":"]"},\n"x"]'), [
      {text: '1', line: 1},
      {text: '{"a":"]"}', line: 2},
      {text: '"x"', line: 3},
    ])
  })

  it('returns the elements before a structural error', () => {
    assert.deepEqual(splitArrayText('[1,2,,3]'), [
      {text: '1', line: 1},
      {text: '2', line: 1},
    ])
  })
})

describe('JsonArrayScanner: edges', () => {
  it('an empty string first is a whole element: no escape is pending at the start', () => {
    assert.deepEqual(scanAll('["",1]').elements, [
      {text: '""', line: 1, last: false},
      {text: '1', line: 1, last: true},
    ])
  })

  it('names a printable first byte as itself and the others by code, DEL included', () => {
    assert.equal(scanError('~').message, "input must be a JSON array; it starts with '~' at line 1")
    assert.equal(scanError('!').message, "input must be a JSON array; it starts with '!' at line 1")
    assert.equal(scanError(Buffer.from([0x7f])).message, 'input must be a JSON array; it starts with byte 0x7f at line 1')
    assert.equal(scanError(Buffer.from([0x1f])).message, 'input must be a JSON array; it starts with byte 0x1f at line 1')
  })

  it('isBlankByte: JSON whitespace only', () => {
    assert.deepEqual(
      [0x20, 0x0a, 0x0d, 0x09, 0x0b, 0x0c, 0x00, 0xa0, 0x5b].map((b) => isBlankByte(b)),
      [true, true, true, true, false, false, false, false, false],
    )
  })
})
