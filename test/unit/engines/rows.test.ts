import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {Job} from '../../../src/engines/protocol.js'
import {parseRows} from '../../../src/engines/rows.js'

type RunJob = Extract<Job, {op: 'run'}>

const job = (text: string, extra: Partial<RunJob> = {}): RunJob => ({
  op: 'run',
  engine: 'v8',
  tag: 't',
  hash: 'h',
  sourcePath: '',
  compiledPath: '',
  input: '',
  rows: true,
  rowsIn: 'ndjson',
  limits: {timeoutMs: 1000, memoryBytes: 1 << 20, maxOutputBytes: 1 << 20, maxLogBytes: 1 << 20},
  inputBytes: Buffer.from(text),
  ...extra,
})

// NDJSON bytes are decoded in pieces of 64 KiB cut after a newline (rows.ts): what comes out must
// not depend on where the pieces end.
describe('NDJSON rows from bytes', () => {
  // lines of every length around the piece size, some with multi-byte characters, blank and CRLF lines
  const values: unknown[] = []
  let text = ''
  for (let i = 0; text.length < 300_000; i++) {
    const v = {i, s: (i % 7 === 0 ? '\u00e9\u{1F600}' : 'x').repeat((i * 37) % 900), big: i === 40 ? 'y'.repeat(70_000) : undefined}
    values.push(JSON.parse(JSON.stringify(v)))
    text += JSON.stringify(v) + (i % 5 === 0 ? '\r\n' : '\n') + (i % 11 === 0 ? '  \n' : '')
  }

  it('parses the same rows as the text decoded whole, with and without a last newline', () => {
    assert.deepEqual(parseRows(job(text)), values)
    assert.deepEqual(parseRows(job(text.trimEnd())), values)
    assert.deepEqual(parseRows(job('', {inputBytes: undefined, input: text})), values)
  })

  it('names the line of an invalid row in a later piece', () => {
    const lines = text.split('\n')
    const bad = lines.length - 3
    lines[bad] = '{"broken":'
    const r = parseRows(job(lines.join('\n'), {firstLine: 10}))
    assert.ok(!Array.isArray(r))
    assert.equal(r.kind, 'badData')
    assert.equal((r as {line?: number}).line, 10 + bad)
  })

  it('checks the row count the reader made', () => {
    const r = parseRows(job('1\n2\n', {rowCount: 3}))
    assert.ok(!Array.isArray(r) && r.kind === 'internal')
  })
})
