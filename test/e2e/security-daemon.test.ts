import assert from 'node:assert/strict'
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {daemonFiles, daemonUp} from '../fixtures/daemon.js'
import {BIN, burn, burnAsync, register, startBurn, stats, tmp, writeScript} from '../helpers.js'

// Issue 11, the run daemon and runner processes: a socket or lock someone else planted is
// never trusted, nothing outside the daemon directory is touched, runners die with their
// supervisor, and no daemon (stopped, or sent garbage) can hang a call or itself.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const isRoot = process.getuid?.() === 0
const OTHER = ['--reuid', '65534', '--regid', '65534', '--clear-groups']

/** Alive and not a zombie (a process reparented to an init that does not reap stays one). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

async function gone(pid: number, ms = 5000): Promise<boolean> {
  for (let t = 0; t < ms; t += 25) {
    if (!running(pid)) return true
    await sleep(25)
  }
  return false
}

/** Live processes whose parent is `ppid` and whose command line contains `part`. */
function children(ppid: number, part: string): number[] {
  const out = []
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== ppid) continue
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(part) && running(Number(p))) out.push(Number(p))
    } catch {
      // exited meanwhile
    }
  }
  return out
}

async function waitFor<T>(what: string, f: () => T | undefined, ms = 15_000): Promise<T> {
  for (let t = 0; t < ms; t += 25) {
    const v = f()
    if (v !== undefined) return v
    await sleep(25)
  }
  throw new Error(`timed out waiting for ${what}`)
}

function envFor(cache: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {...process.env, BURN_CACHE_DIR: cache, BURN_DAEMON_IDLE: '15s', FORCE_COLOR: '0', ...extra}
}

/** Frames as the daemon reads them: type byte, 32-bit big-endian length, bytes. */
function frame(type: string, body: string | Buffer): Buffer {
  const b = Buffer.from(body)
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeUInt32BE(b.length, 1)
  return Buffer.concat([head, b])
}

/** Sends raw bytes to a socket; resolves with how long the daemon took to close it (Infinity: not within `ms`). */
function sendRaw(socket: string, bytes: Buffer, ms = 3000): Promise<number> {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const c = connect(socket)
    const timer = setTimeout(() => {
      c.destroy()
      resolve(Infinity)
    }, ms)
    c.on('error', () => {})
    c.on('close', () => {
      clearTimeout(timer)
      resolve(Date.now() - t0)
    })
    c.write(bytes)
  })
}

describe('the client trusts only a socket of its own user', {skip: isRoot ? false : 'needs root to play a second user (uid 65534)'}, () => {
  it('never sends a call to a fake daemon of another user listening on the socket path, and prints the true result', async () => {
    const cache = tmp()
    const dir = tmp()
    register(cache, writeScript(dir, 'double.js', 'module.exports = (x) => ({y: x.x * 2})\n'), ['--name', 'double'])
    // the real daemon's socket name (its environment key), then the real daemon gone
    burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache})
    const {pid, socket} = await daemonUp(cache)
    assert.equal(burn(['daemon', 'stop'], {cacheDir: cache}).code, 0)
    assert.ok(await gone(pid))
    // user 65534 listens in a directory of its own and answers every connection with a forged result
    const fakeDir = tmp()
    chmodSync(fakeDir, 0o777)
    const fakeSock = join(fakeDir, 'fake.sock')
    const record = join(fakeDir, 'received')
    const server = `const fs = require('fs'); require('net').createServer((c) => {
      c.on('data', (d) => fs.appendFileSync(${JSON.stringify(record)}, d))
      const f = (t, s) => { const b = Buffer.from(s); const h = Buffer.alloc(5); h.write(t, 0, 'latin1'); h.writeUInt32BE(b.length, 1); return Buffer.concat([h, b]) }
      c.end(Buffer.concat([f('o', '{"forged":true}\\n'), f('x', '0')]))
    }).listen(${JSON.stringify(fakeSock)})`
    const fake = spawn('setpriv', [...OTHER, process.execPath, '-e', server], {stdio: 'ignore'})
    try {
      await waitFor('the fake daemon', () => (existsSync(fakeSock) ? true : undefined))
      renameSync(fakeSock, socket)
      const r = burn(['run', 'double', '--input', '{"x":21}'], {cacheDir: cache})
      assert.equal(r.stdout, '{"y":42}\n')
      assert.equal(r.code, 0)
      assert.match(
        r.stderr,
        /^burn: not using the run daemon: the socket .* is owned by uid 65534, not by you \(uid 0\); the call runs directly/,
      )
      assert.equal(existsSync(record), false, 'the fake daemon received bytes')
    } finally {
      fake.kill('SIGKILL')
    }
  })

  it('refuses a daemon directory owned by another user, shared, or a symlink: exit 8 naming it and the fix', () => {
    const cache = tmp()
    const dir = tmp()
    register(cache, writeScript(dir, 'double.js', 'module.exports = (x) => ({y: x.x * 2})\n'), ['--name', 'double'])
    const daemonDir = join(cache, 'daemon')
    mkdirSync(daemonDir, {mode: 0o700})
    spawnSync('chown', ['65534:65534', daemonDir])
    let r = burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache})
    assert.equal(r.code, 8)
    assert.equal(
      r.stderr,
      `Error: ${daemonDir} is owned by uid 65534, not by you (uid 0): its owner decides what burn would run; pass another --cache-dir (or, if it is yours, \`chown -R 0 ${daemonDir}\`)\n`,
    )
    spawnSync('chown', ['0:0', daemonDir])
    chmodSync(daemonDir, 0o777)
    r = burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache})
    assert.equal(r.code, 8)
    assert.equal(
      r.stderr,
      `Error: ${daemonDir} is writable by group and others (mode 0777): they could plant scripts you would run; \`chmod 700 ${daemonDir}\` if nobody else wrote into it, or pass another --cache-dir\n`,
    )
  })
})

describe('burn daemon stop signals only verified daemons', () => {
  const plant = (cache: string, key: string, pid: number) => {
    mkdirSync(join(cache, 'daemon'), {recursive: true, mode: 0o700})
    const lock = join(cache, 'daemon', `${key}.lock`)
    writeFileSync(lock, JSON.stringify({pid, host: hostname(), token: 'planted', created: Date.now()}), {mode: 0o600})
    return lock
  }

  it('signals nothing for a lock naming an unrelated live process, and removes the lock as debris', async () => {
    const cache = tmp()
    const dir = tmp()
    register(cache, writeScript(dir, 'double.js', 'module.exports = (x) => ({y: x.x * 2})\n'), ['--name', 'double'])
    const victim = spawn('sleep', ['30'], {stdio: 'ignore'})
    const exited = new Promise((resolve) => victim.on('exit', (code, signal) => resolve(signal ?? code)))
    try {
      const lock = plant(cache, 'aaaaaaaaaaaaaaaaaaaa', victim.pid!)
      const r = burn(['daemon', 'stop'], {cacheDir: cache, env: {BURN_DAEMON: 'off'}})
      assert.equal(r.code, 0)
      assert.equal(r.stdout, 'no run daemon was running\n')
      assert.equal(await Promise.race([exited, sleep(500).then(() => 'alive')]), 'alive')
      assert.equal(existsSync(lock), false)
    } finally {
      victim.kill('SIGKILL')
    }
  })

  it(
    'signals nothing for a lock with "pid": -1 (every process of the user), and removes it',
    {skip: isRoot ? false : 'needs root for a PID namespace'},
    () => {
      const cache = tmp()
      const dir = tmp()
      register(cache, writeScript(dir, 'double.js', 'module.exports = (x) => ({y: x.x * 2})\n'), ['--name', 'double'])
      const lock = plant(cache, 'bbbbbbbbbbbbbbbbbbbb', -1)
      // In a PID namespace of its own: were -1 ever signalled, only that namespace would feel it.
      const script = `sleep 30 & S=$!; "$0" "$1" daemon stop; echo "exit $?"; kill -0 $S && echo "sleep alive"; kill $S`
      const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', script, process.execPath, BIN], {
        env: envFor(cache, {BURN_DAEMON: 'off'}),
        encoding: 'utf8',
        timeout: 60_000,
      })
      assert.equal(r.stdout, 'no run daemon was running\nexit 0\nsleep alive\n', r.stderr)
      assert.equal(existsSync(lock), false)
    },
  )

  it('still stops a real daemon', async () => {
    const cache = tmp()
    const dir = tmp()
    register(cache, writeScript(dir, 'double.js', 'module.exports = (x) => ({y: x.x * 2})\n'), ['--name', 'double'])
    burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache})
    const {pid} = await daemonUp(cache)
    const r = burn(['daemon', 'stop'], {cacheDir: cache})
    assert.equal(r.stdout, 'stopped 1 run daemon\n')
    assert.ok(await gone(pid, 3000))
    assert.deepEqual(daemonFiles(cache), [])
  })
})

describe('a daemon directory that is a symlink is never followed', () => {
  it('burn daemon stop, status and gc delete nothing outside; stop, status and run exit 8', async () => {
    const cache = tmp()
    const dir = tmp()
    register(cache, writeScript(dir, 'double.js', 'module.exports = (x) => ({y: x.x * 2})\n'), ['--name', 'double'])
    const project = tmp()
    const old = new Date(Date.now() - 3600_000)
    for (const f of ['Cargo.lock', 'yarn.lock']) {
      writeFileSync(join(project, f), 'keep me\n')
      utimesSync(join(project, f), old, old)
    }
    const sock = join(project, 'app.sock')
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.exit(0))`])
    assert.ok(existsSync(sock))
    const link = join(cache, 'daemon')
    symlinkSync(project, link)
    const message = `Error: ${link} is a symbolic link; burn does not follow links out of its store: remove it or pass another --cache-dir\n`
    for (const args of [
      ['daemon', 'stop'],
      ['daemon', 'status'],
    ]) {
      const r = burn(args, {cacheDir: cache})
      assert.equal(r.code, 8, args.join(' '))
      assert.equal(r.stderr, message)
    }
    const run = burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache})
    assert.equal(run.code, 8)
    assert.equal(run.stderr, message)
    burn(['gc'], {cacheDir: cache})
    assert.deepEqual(readdirSync(project).sort(), ['Cargo.lock', 'app.sock', 'yarn.lock'])
  })
})

describe('no runner outlives its supervisor', () => {
  const cache = tmp()
  const dir = tmp()
  register(cache, writeScript(dir, 'spin.js', 'module.exports = () => { for (;;) {} }\n'), ['--name', 'spin'])
  register(cache, join(dir, 'spin.js'), ['--engine', 'quickjs'])

  /** Starts a spinning call in a session of its own; its runner's PID once the script spins. */
  async function spinning(env: NodeJS.ProcessEnv, engine: string): Promise<{client: ChildProcess; runner: number}> {
    const client = spawn(process.execPath, [BIN, 'run', 'spin', '--engine', engine, '--timeout', '120s', '--input', '1'], {
      env,
      detached: true,
      stdio: 'ignore',
    })
    const runner = await waitFor('the runner', () => children(client.pid!, 'run-child.cjs')[0])
    // (the script spins once the runner has loaded it; its load is not what is tested)
    await sleep(1500)
    assert.ok(running(runner))
    return {client, runner}
  }

  for (const engine of ['v8', 'quickjs']) {
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
      it(`a direct run killed with ${signal} leaves no runner 1 s later: ${engine}`, async () => {
        const {client, runner} = await spinning(envFor(cache, {BURN_DAEMON: 'off'}), engine)
        process.kill(client.pid!, signal)
        await sleep(1000)
        const alive = running(runner)
        if (alive) process.kill(runner, 'SIGKILL')
        assert.equal(alive, false)
      })
    }

    it(`the run daemon killed with -9 mid-call leaves none of its runners 1 s later: ${engine}`, async () => {
      burn(['run', 'spin', '--engine', engine, '--timeout', '1ms', '--input', '1'], {cacheDir: cache})
      const {pid} = await daemonUp(cache)
      // BURN_DAEMON=require: the client does not run the call again directly once the daemon is gone
      const client = spawn(process.execPath, [BIN, 'run', 'spin', '--engine', engine, '--timeout', '120s', '--input', '1'], {
        env: envFor(cache, {BURN_DAEMON: 'require'}),
        stdio: 'ignore',
      })
      const ended = new Promise((resolve) => client.on('exit', resolve))
      try {
        await sleep(2000)
        const runners = children(pid, 'run-child.cjs')
        assert.ok(runners.length >= 1, 'the daemon has runners')
        process.kill(pid, 'SIGKILL')
        await sleep(1000)
        const alive = runners.filter(running)
        for (const p of alive) process.kill(p, 'SIGKILL')
        assert.deepEqual(alive, [])
        assert.equal(await Promise.race([ended, sleep(10_000)]), 1)
      } finally {
        client.kill('SIGKILL')
      }
    })
  }

  it('without setpriv, a thread of the runner ends it (BURN_PARENT_WATCH=thread): v8, SIGKILL', async () => {
    const {client, runner} = await spinning(envFor(cache, {BURN_DAEMON: 'off', BURN_PARENT_WATCH: 'thread'}), 'v8')
    process.kill(client.pid!, 'SIGKILL')
    await sleep(1000)
    const alive = running(runner)
    if (alive) process.kill(runner, 'SIGKILL')
    assert.equal(alive, false)
  })
})

describe('nothing blocks forever, and garbage changes nothing', () => {
  const cache = tmp()
  const dir = tmp()
  register(cache, writeScript(dir, 'double.js', 'module.exports = (x) => ({y: x.x * 2})\n'), ['--name', 'double'])
  register(cache, writeScript(dir, 'len.js', 'module.exports = (x) => x.length\n'), ['--name', 'len'])

  // BURN_DAEMON_SILENCE_MS: the client's deadline for a silent daemon, 3 s here instead of 15 s.
  const quick = {BURN_DAEMON_SILENCE_MS: '3000'}

  it('a SIGSTOPped daemon does not hang burn run --timeout 1s: it runs directly, said on stderr, or fails cleanly under BURN_DAEMON=require', async () => {
    burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache})
    const {pid} = await daemonUp(cache)
    process.kill(pid, 'SIGSTOP')
    try {
      const before = stats(cache)['daemon.fallbacks'] ?? 0
      const r = await Promise.race([
        burnAsync(['run', 'double', '--input', '{"x":21}', '--timeout', '1s'], {cacheDir: cache, env: quick}),
        sleep(40_000).then(() => undefined),
      ])
      assert.ok(r, 'burn run still hangs after 40 s')
      assert.equal(r.stdout, '{"y":42}\n')
      assert.equal(r.code, 0)
      assert.equal(
        r.stderr,
        'burn: the burn run daemon sent nothing for 3s; the call runs directly (burn daemon stop ends a stuck daemon)\n',
      )
      assert.equal(stats(cache)['daemon.fallbacks'], before + 1)
      const q = await burnAsync(['run', 'double', '--input', '{"x":21}', '--timeout', '1s'], {
        cacheDir: cache,
        env: {...quick, BURN_DAEMON: 'require'},
      })
      assert.equal(q.code, 1)
      assert.equal(q.stdout, '')
      assert.equal(
        q.stderr,
        'Error: the burn run daemon sent nothing for 3s (BURN_DAEMON=require); run it again (burn daemon stop ends a stuck daemon)\n',
      )
      // failed, not fallen back: not counted
      assert.equal(stats(cache)['daemon.fallbacks'], before + 1)
    } finally {
      process.kill(pid, 'SIGCONT')
    }
  })

  // A loaded machine stalls the client as well as the daemon. When the client runs again, its
  // silence timer fires before it reads the frames that arrived meanwhile, and the daemon may
  // not have run yet either: the time the client was not running is not the daemon's silence
  // (CI once saw a working daemon given up on this way).
  it('a client that was itself stopped longer than the silence deadline still takes the call from the daemon', async () => {
    const slow = writeScript(
      dir,
      'slow.js',
      'module.exports = () => { console.log("started"); const t = Date.now(); while (Date.now() - t < 2000); return 2 }\n',
    )
    register(cache, slow, ['--name', 'slow'])
    const env = {...quick, BURN_DAEMON: 'require'}
    assert.equal((await burnAsync(['run', 'slow', '--timeout', '30s'], {cacheDir: cache, env})).code, 0)
    const before = stats(cache)['daemon.fallbacks'] ?? 0
    // the client alone stopped: the frames it finds waiting are read before any verdict
    // (then the client and its daemon, resumed in that order: the daemon gets a grace period)
    for (const withDaemon of [false, true]) {
      const p = startBurn(['run', 'slow', '--timeout', '30s'], {cacheDir: cache, env})
      for (const until = Date.now() + 30_000; !p.soFar().stderr.includes('started') && Date.now() < until;) await sleep(5)
      const {pid} = await daemonUp(cache)
      process.kill(p.pid, 'SIGSTOP')
      if (withDaemon) process.kill(pid, 'SIGSTOP')
      await sleep(5000)
      p.resume()
      if (withDaemon) {
        await sleep(1500)
        process.kill(pid, 'SIGCONT')
      }
      const r = await p.done
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, '2\n', 'started\n'], `with the daemon stopped too: ${withDaemon}`)
    }
    assert.equal(stats(cache)['daemon.fallbacks'] ?? 0, before)
  })

  // The client measures the daemon's silence (keepalives every second while a call runs) from
  // the last frame it handled: time it spent blocked writing to a reader that does not read is
  // not the daemon's silence, however short the call's --timeout.
  it('a reader that waits longer than the silence deadline gets the whole result through the daemon', async () => {
    register(cache, writeScript(dir, 'big.js', 'module.exports = () => "x".repeat(4 << 20)\n'), ['--name', 'big'])
    burn(['run', 'big', '--timeout', '1s'], {cacheDir: cache})
    await daemonUp(cache)
    const r = spawnSync('bash', ['-c', 'set -o pipefail; "$0" "$1" run big --timeout 1s | (sleep 17; wc -c)', process.execPath, BIN], {
      env: envFor(cache, {BURN_DAEMON: 'require'}),
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.equal(r.stderr, '')
    assert.equal(r.stdout.trim(), String((4 << 20) + 3))
    assert.equal(r.status, 0)
  })

  it('a deleted working directory gives exactly what the direct path gives', async () => {
    burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache})
    await daemonUp(cache)
    const inGone = (env: Record<string, string>) => {
      const d = tmp()
      const sh = `cd "$2" && rmdir "$2" && exec "$0" "$1" run double --input '{"x":5}'`
      const r = spawnSync('sh', ['-c', sh, process.execPath, BIN, d], {env: envFor(cache, env), encoding: 'utf8'})
      return {code: r.status, stdout: r.stdout, stderr: r.stderr}
    }
    const direct = inGone({BURN_DAEMON: 'off'})
    assert.deepEqual(direct, {code: 0, stdout: '{"y":10}\n', stderr: ''})
    assert.deepEqual(inGone({}), direct)
  })

  it('refuses malformed frames without counting them: it still idles out', async () => {
    const c = tmp()
    register(c, join(dir, 'double.js'), ['--name', 'double'])
    burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: c, env: {BURN_DAEMON_IDLE: '2s'}})
    const {pid, socket} = await daemonUp(c)
    const big = Buffer.alloc(5)
    big.write('R', 0, 'latin1')
    big.writeUInt32BE(0xffff_fff0, 1)
    const garbage: Record<string, Buffer> = {
      'R null': frame('R', 'null'),
      'R not JSON': frame('R', '{argv'),
      'R wrong types': frame('R', '{"argv": 5, "cwd": 1, "stdin": 2}'),
      'R argv not strings': frame('R', '{"argv": [1], "cwd": "/", "stdin": null}'),
      'unknown type': frame('Z', '{}'),
      'oversized length': big,
    }
    for (const [name, bytes] of Object.entries(garbage))
      assert.ok((await sendRaw(socket, bytes)) < 3000, `${name}: the connection was not closed`)
    assert.ok(await gone(pid, 8000), 'the daemon did not idle out')
  })

  it('burn daemon stop really stops a daemon that was sent a null request', async () => {
    burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache})
    const {pid, socket} = await daemonUp(cache)
    await sendRaw(socket, frame('R', 'null'))
    assert.equal(burn(['daemon', 'stop'], {cacheDir: cache}).stdout, 'stopped 1 run daemon\n')
    assert.ok(await gone(pid, 3000))
  })

  // Linear reading is asserted where a loaded machine cannot blur it (test/unit/run/frames.test.ts:
  // bytes copied); here the bytes, and the two times as a diagnostic (no timing assertion).
  it('relays 40 MB of stdin through the daemon with the same result as the direct path', async (t) => {
    const input = JSON.stringify(Array.from({length: 3_500_000}, (_, i) => (i % 1000 === 0 ? 'x'.repeat(10) : i)))
    assert.ok(input.length > 20e6)
    const big = input.length < 40e6 ? input + ' '.repeat(40e6 - input.length) : input
    const timed = async (env: Record<string, string>) => {
      const t0 = Date.now()
      const r = await burnAsync(['run', 'len', '--timeout', '60s'], {cacheDir: cache, input: big, env})
      assert.equal(r.stdout, '3500000\n', r.stderr)
      return Date.now() - t0
    }
    burn(['run', 'len', '--input', '[]'], {cacheDir: cache})
    await daemonUp(cache)
    const direct = Math.min(await timed({BURN_DAEMON: 'off'}), await timed({BURN_DAEMON: 'off'}))
    // (the direct runs can outlast the daemon's idle time on a loaded machine: up again first)
    burn(['run', 'len', '--input', '[]'], {cacheDir: cache})
    await daemonUp(cache)
    const daemon = Math.min(await timed({BURN_DAEMON: 'require'}), await timed({BURN_DAEMON: 'require'}))
    t.diagnostic(`40 MB stdin: direct ${direct} ms, through the daemon ${daemon} ms (ratio ${(daemon / direct).toFixed(2)})`)
  })
})
