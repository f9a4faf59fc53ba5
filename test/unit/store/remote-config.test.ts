import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {redactUrl, remoteConfig, remoteCooldownMs, scrub} from '../../../src/store/remote/config.js'
import {openCompiled, sealCompiled, signEngines, signName, verifyEngines, verifyName} from '../../../src/store/remote/signing.js'

const H = 'a'.repeat(64)
const H2 = 'b'.repeat(64)

describe('remote configuration', () => {
  it('never shows a password: URLs are redacted and messages scrubbed', () => {
    assert.equal(redactUrl('redis://user:s3cret@host:6379/2'), 'redis://user:***@host:6379/2')
    assert.equal(redactUrl('rediss://:s3cret@host'), 'rediss://:***@host')
    assert.equal(redactUrl('redis://token@host'), 'redis://***@host')
    // a password holding an @: the userinfo ends at the last @ before the host
    assert.equal(redactUrl('redis://u:p@ss@host:6379/1'), 'redis://u:***@host:6379/1')
    assert.equal(redactUrl('unix:///run/redis.sock'), 'unix:///run/redis.sock')
    const c = remoteConfig({BURN_REMOTE: 'redis://u:s3cret@h:1', BURN_REMOTE_PASSWORD: 'other', BURN_REMOTE_KEY: 'k3y'})!
    assert.equal(c.shown, 'redis://u:***@h:1')
    assert.equal(scrub('auth s3cret failed, other, k3y, redis://u:s3cret@h:1', c), 'auth *** failed, ***, ***, redis://u:***@h:1')
    const at = remoteConfig({BURN_REMOTE: 'redis://u:p@ss@h:1'})!
    assert.equal(at.shown, 'redis://u:***@h:1')
    assert.equal(scrub('auth p@ss failed', at), 'auth *** failed')
  })

  it('is off without BURN_REMOTE or in mode off, with short default timeouts; bad values are usage errors', () => {
    assert.equal(remoteConfig({}), undefined)
    assert.equal(remoteConfig({BURN_REMOTE: 'redis://h', BURN_REMOTE_MODE: 'off'}), undefined)
    assert.equal(remoteConfig({BURN_REMOTE: 'redis://h'}, {'remote-mode': 'off'}), undefined)
    const c = remoteConfig({BURN_REMOTE: 'redis://h', BURN_REMOTE_TTL: '2h'})!
    assert.deepEqual([c.mode, c.prefix, c.ttlSec, c.connectTimeoutMs, c.operationTimeoutMs], ['read-write', 'burn:', 7200, 500, 5000])
    assert.throws(() => remoteConfig({BURN_REMOTE: 'http://h'}), /invalid remote "http:\/\/h"/)
    assert.throws(() => remoteConfig({BURN_REMOTE: 'redis://h', BURN_REMOTE_MODE: 'rw'}), /invalid remote mode "rw"/)
  })
})

describe('the run daemon cooldown', () => {
  it('is 30 s by default, BURN_REMOTE_COOLDOWN otherwise, and the default for a value it cannot read', () => {
    assert.equal(remoteCooldownMs({}), 30_000)
    assert.equal(remoteCooldownMs({BURN_REMOTE_COOLDOWN: '12s'}), 12_000)
    assert.equal(remoteCooldownMs({BURN_REMOTE_COOLDOWN: '250ms'}), 250)
    assert.equal(remoteCooldownMs({BURN_REMOTE_COOLDOWN: 'soon'}), 30_000)
  })
})

describe('remote signatures', () => {
  it('a signed name or binding verifies only with its key, for its own name or script', () => {
    assert.deepEqual(verifyName(signName('n', H, 'k'), 'n', 'k'), {ok: true, value: H})
    assert.deepEqual(verifyName(signName('n', H, 'k'), 'n', 'other'), {ok: false, why: 'bad-signature'})
    assert.deepEqual(verifyName(signName('n', H, 'k'), 'm', 'k'), {ok: false, why: 'bad-signature'})
    assert.deepEqual(verifyName(signName('n', H, 'k'), 'n', undefined), {ok: false, why: 'no-key'})
    assert.deepEqual(verifyName(signName('n', H, undefined), 'n', 'k'), {ok: false, why: 'unsigned'})
    assert.deepEqual(verifyName(Buffer.from('garbage'), 'n', 'k'), {ok: false, why: 'malformed'})
    assert.deepEqual(verifyEngines(signEngines(H, ['v8'], 'k'), H, 'k'), {ok: true, value: ['v8']})
    assert.deepEqual(verifyEngines(signEngines(H, ['v8'], 'k'), H2, 'k'), {ok: false, why: 'bad-signature'})
  })

  it('a sealed compiled form opens only with its key, tag and script, and unchanged', () => {
    const a = Buffer.from('artifact bytes')
    assert.deepEqual(openCompiled(sealCompiled('t', H, a, 'k'), 't', H, 'k'), a)
    assert.equal(openCompiled(sealCompiled('t', H, a, 'k'), 't', H, 'x'), undefined)
    assert.equal(openCompiled(sealCompiled('t', H, a, 'k'), 't', H2, 'k'), undefined)
    assert.equal(openCompiled(sealCompiled('t', H, a, 'k'), 'u', H, 'k'), undefined)
    const flipped = sealCompiled('t', H, a, 'k')
    flipped[0] ^= 1
    assert.equal(openCompiled(flipped, 't', H, 'k'), undefined)
    assert.equal(openCompiled(a, 't', H, 'k'), undefined)
    assert.equal(openCompiled(sealCompiled('t', H, a, 'k'), 't', H, undefined), undefined)
  })
})
