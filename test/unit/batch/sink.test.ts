import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {RowSink} from '../../../src/batch/sink.js'

const dir = mkdtempSync(join(tmpdir(), 'burn-sink-'))
after(() => rmSync(dir, {recursive: true, force: true}))

describe('RowSink release', () => {
  it('a buffer is released only once its bytes are written: written over then, the file still holds them', async () => {
    const path = join(dir, 'out.ndjson')
    const sink = RowSink.file(path, 'ndjson', () => {})
    const big = Buffer.alloc(64 * 1024, 'a')
    const small = Buffer.from('{"b":1}')
    const released: string[] = []
    // released buffers are written over at once, as the next chunk put together in them would
    sink.add(big, 1, () => (released.push('big'), big.fill('x')))
    sink.add(small, 1, () => (released.push('small'), small.fill('y')))
    sink.flush()
    // (a file is written in the background: nothing is written yet)
    assert.deepEqual(released, [])
    await sink.end(true)
    assert.deepEqual(released, ['big', 'small'])
    assert.equal(readFileSync(path, 'utf8'), `${'a'.repeat(64 * 1024)}\n{"b":1}\n`)
  })

  it('small pieces written joined are released as soon as they are copied', async () => {
    const path = join(dir, 'small.ndjson')
    const sink = RowSink.file(path, 'ndjson', () => {})
    const a = Buffer.from('{"a":1}')
    const b = Buffer.from('{"b":2}')
    let released = 0
    sink.add(a, 1, () => (released++, a.fill('x')))
    sink.add(b, 1, () => (released++, b.fill('y')))
    sink.flush()
    assert.equal(released, 2)
    await sink.end(true)
    assert.equal(readFileSync(path, 'utf8'), '{"a":1}\n{"b":2}\n')
  })
})
