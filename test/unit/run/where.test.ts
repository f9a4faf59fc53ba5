import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {daemonAllowed, daemonPaths} from '../../../src/run/daemon/where.js'

// Where a cache dir's run daemon listens (src/run/daemon/where.ts, through store/layout.ts).

describe('run daemon paths', () => {
  it('are <cache>/daemon/<key>.sock and .lock, the key a 20-digit digest of the environment', () => {
    const p = daemonPaths('/tmp/c/../cache', {})!
    assert.equal(p.layout.root, '/tmp/cache')
    assert.match(p.socket, /^\/tmp\/cache\/daemon\/[0-9a-f]{20}\.sock$/)
    assert.equal(p.lock, p.socket.replace(/\.sock$/, '.lock'))
  })

  it('change with the environment a script can observe, and only with it', () => {
    const base = daemonPaths('/tmp/cache', {HOME: '/a'})!.socket
    assert.equal(daemonPaths('/tmp/cache', {HOME: '/b', BURN_DAEMON: 'on'})!.socket, base)
    assert.notEqual(daemonPaths('/tmp/cache', {TZ: 'UTC'})!.socket, base)
    assert.notEqual(daemonPaths('/tmp/cache', {NODE_OPTIONS: '--no-warnings'})!.socket, base)
  })

  it('are refused when the socket path would not fit a Unix socket address', () => {
    assert.equal(daemonPaths('/' + 'd'.repeat(70), {}), undefined)
    assert.ok(daemonPaths('/' + 'd'.repeat(40), {}))
  })

  it('are used unless BURN_DAEMON opts out; a debugging knob is part of the key instead', () => {
    assert.equal(daemonAllowed({BURN_CACHE_DIR: '/x', BURN_DAEMON: 'require', BURN_DAEMON_IDLE: '1s'}), true)
    assert.equal(daemonAllowed({BURN_DAEMON: 'off'}), false)
    assert.equal(daemonAllowed({BURN_FAULT: 'x'}), true)
    const base = daemonPaths('/tmp/cache', {BURN_DAEMON: 'require', BURN_DAEMON_IDLE: '1s', BURN_CACHE_DIR: '/x'})!.socket
    assert.equal(daemonPaths('/tmp/cache', {})!.socket, base)
    assert.notEqual(daemonPaths('/tmp/cache', {BURN_FAULT: 'x'})!.socket, base)
    // BURN_DEBUG changes only what the client says: the same daemon serves it
    assert.equal(daemonPaths('/tmp/cache', {BURN_DEBUG: '1'})!.socket, base)
    assert.notEqual(daemonPaths('/tmp/cache', {BURN_LOCK_WAIT: '1s'})!.socket, daemonPaths('/tmp/cache', {BURN_LOCK_WAIT: '2s'})!.socket)
  })
})
