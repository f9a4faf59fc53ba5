import assert from 'node:assert/strict'
import {cachedDataVersionTag, setFlagsFromString} from 'node:v8'
import {describe, it} from 'node:test'
import {warmQuickjs} from '../../../src/engines/quickjs/sandbox.js'
import {engineTag} from '../../../src/engines/tag.js'
import {tuneQuickjsForFewCalls} from '../../../src/engines/wasm-flags.js'

// The quickjs engine compiles QuickJS's wasm with --wasm-inlining, and with a larger tiering
// budget in a process of few calls (wasm-flags.ts); a V8 flag changes cachedDataVersionTag, so the
// v8 engine must find the process's own flags again.
describe('V8 flags of the quickjs engine', () => {
  it('are on while quickjs loads, and off again for the v8 engine tag', async () => {
    const tag = engineTag('v8')
    const own = cachedDataVersionTag()
    // as a direct run's child: the process makes one call (the tiering budget is set too)
    tuneQuickjsForFewCalls()
    await warmQuickjs()
    if (process.versions.v8.startsWith('11.')) {
      assert.notEqual(cachedDataVersionTag(), own, 'the flags are set on V8 11')
      // the tiering budget is one of them: setting the same value again changes nothing
      const tuned = cachedDataVersionTag()
      setFlagsFromString('--wasm-tiering-budget=150000000')
      assert.equal(cachedDataVersionTag(), tuned, 'the wasm tiering budget is 150M')
    }
    assert.equal(engineTag('v8'), tag)
    assert.equal(cachedDataVersionTag(), own)
  })
})
