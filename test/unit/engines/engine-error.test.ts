import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {engineError} from '../../../src/engines/engine-error.js'
import type {JobError} from '../../../src/engines/protocol.js'

const H = 'a'.repeat(64)
const shape = (e: JobError, subject: {hash: string} | {file: string}) => {
  const b = engineError(e, subject)
  return {kind: b.kind, code: b.exitCode, message: b.message, data: b.data}
}

describe('engineError', () => {
  it("maps a stored script's call errors, by hash", () => {
    assert.deepEqual(shape({kind: 'script', message: 'Error: x', stack: 'Error: x\n    at f'}, {hash: H}), {
      kind: 'scriptError',
      code: 5,
      message: 'Error: x\n    at f',
      data: {hash: H, message: 'Error: x', stack: 'Error: x\n    at f'},
    })
    assert.equal(engineError({kind: 'script', message: 'm', stack: '    at f'}, {hash: H}).message, 'm\n    at f')
    assert.deepEqual(shape({kind: 'limit', limit: 'timeout', message: 'too slow'}, {hash: H}), {
      kind: 'limit',
      code: 6,
      message: 'too slow',
      data: {hash: H, limit: 'timeout'},
    })
    assert.deepEqual(shape({kind: 'compile', message: 'SyntaxError: y', line: 3, column: 7}, {hash: H}), {
      kind: 'compile',
      code: 4,
      message: 'SyntaxError: y (line 3, column 7)',
      data: {hash: H, line: 3, column: 7},
    })
    assert.equal(engineError({kind: 'compile', message: 'S'}, {hash: H}).message, 'S')
    assert.deepEqual(shape({kind: 'sourceDamaged', message: 'bad source'}, {hash: H}), {
      kind: 'store',
      code: 8,
      message: 'bad source; it was set aside: run `burn verify` and register the script again',
      data: {hash: H},
    })
    assert.deepEqual(shape({kind: 'internal', message: 'oops'}, {hash: H}), {
      kind: 'internal',
      code: 1,
      message: 'internal error (a bug in burn): oops',
      data: {hash: H},
    })
    assert.deepEqual(shape({kind: 'badData', message: 'not JSON', row: 2}, {hash: H}), {
      kind: 'badData',
      code: 7,
      message: 'not JSON',
      data: {hash: H},
    })
  })

  it("maps a register's compile errors, by file", () => {
    assert.deepEqual(shape({kind: 'compile', message: 'SyntaxError: y', line: 3, column: 7}, {file: 'f.js'}), {
      kind: 'compile',
      code: 4,
      message: 'f.js:3:7: SyntaxError: y',
      data: {file: 'f.js', line: 3, column: 7},
    })
    assert.equal(engineError({kind: 'compile', message: 'S', line: 3}, {file: 'f.js'}).message, 'f.js:3: S')
    assert.equal(engineError({kind: 'compile', message: 'S'}, {file: 'f.js'}).message, 'f.js: S')
    assert.deepEqual(shape({kind: 'script', message: 'Error: x', stack: '    at f'}, {file: 'f.js'}), {
      kind: 'scriptError',
      code: 5,
      message: 'f.js: Error: x\n    at f',
      data: {file: 'f.js'},
    })
    assert.deepEqual(shape({kind: 'limit', limit: 'memory', message: 'too big'}, {file: 'f.js'}), {
      kind: 'limit',
      code: 6,
      message: 'f.js: too big',
      data: {file: 'f.js', limit: 'memory'},
    })
    assert.deepEqual(shape({kind: 'internal', message: 'oops'}, {file: 'f.js'}), {
      kind: 'internal',
      code: 1,
      message: 'f.js: oops',
      data: {file: 'f.js'},
    })
  })
})
