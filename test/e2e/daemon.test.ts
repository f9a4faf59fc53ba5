import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {daemonFiles, daemonUp as daemonListening} from '../fixtures/daemon.js'
import {BIN, ROOT, burn, burnAsync, json, procState, register, stats, tmp, writeScript, type Result} from '../helpers.js'

// The run daemon (src/run/daemon): after a first `burn run`, later runs of the same cache dir
// go through a background process that keeps a runner started and the last script loaded.
// Every outcome must be byte for byte what a direct run (BURN_DAEMON=off) gives.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const direct = {BURN_DAEMON: 'off'}
// A call that claims to go through the daemon never runs directly: BURN_DAEMON=require turns
// every fallback into exit 1, and BURN_DEBUG has the client say on stderr that a daemon runner
// served it (npm run test:mutants checks that a broken daemon makes these tests fail).
const daemonOnly = {BURN_DAEMON: 'require'}
const viaDaemon = {...daemonOnly, BURN_DEBUG: '1'}
const SERVED = 'burn: debug: served by the run daemon\n'

/** The call served by the daemon (its stderr ends with the client's debug line), as a call without BURN_DEBUG prints it. */
function served(r: Result): Result {
  assert.ok(r.stderr.endsWith(SERVED), `not served by the run daemon: code ${r.code}, stderr ${JSON.stringify(r.stderr.slice(-400))}`)
  return {...r, stderr: r.stderr.slice(0, -SERVED.length)}
}

/** Waits for the daemon of `cache` to listen, and returns its PID. */
const daemonUp = async (cache: string): Promise<number> => (await daemonListening(cache)).pid

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function gone(pid: number, ms = 5000): Promise<boolean> {
  for (let t = 0; t < ms; t += 25) {
    if (!alive(pid)) return true
    await sleep(25)
  }
  return false
}

/** Processes whose parent is `ppid`, with their command lines. */
function childrenOf(ppid: number): Array<{pid: number; cmd: string}> {
  const out = []
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== ppid) continue
      out.push({pid: Number(p), cmd: readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ')})
    } catch {
      // exited meanwhile
    }
  }
  return out
}

const strip = (r: Result) => ({code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr})

describe('the run daemon', () => {
  const cache = tmp()
  const dir = tmp()
  const double = register(cache, writeScript(dir, 'double.js', 'module.exports = (x) => ({y: x.x * 2})\n'), ['--name', 'double'])
  register(
    cache,
    writeScript(dir, 'log.js', 'module.exports = (x) => { console.log("seen", x); console.error("to stderr"); return [x, x] }\n'),
    ['--name', 'log'],
  )
  register(cache, writeScript(dir, 'throws.js', 'module.exports = () => { throw new TypeError("bad row") }\n'), ['--name', 'throws'])
  register(cache, writeScript(dir, 'spin.js', 'module.exports = () => { for (;;) {} }\n'), ['--name', 'spin'])
  register(
    cache,
    writeScript(dir, 'bomb.js', 'module.exports = () => { const k = []; for (;;) k.push(new Uint8Array(1 << 20).fill(1)) }\n'),
    ['--name', 'bomb'],
  )
  register(cache, writeScript(dir, 'big.js', 'module.exports = () => "z".repeat(5000)\n'), ['--name', 'big'])
  register(cache, writeScript(dir, 'bigint.js', 'module.exports = () => ({a: [1, 10n]})\n'), ['--name', 'bigint'])
  // a result and a log each larger than a pipe's buffer (64 KiB): nothing cut at the early exit
  register(
    cache,
    writeScript(dir, 'huge.js', 'module.exports = () => { console.error("e".repeat(300000)); return "z".repeat(1 << 20) }\n'),
    ['--name', 'huge'],
  )
  register(cache, join(dir, 'huge.js'), ['--engine', 'quickjs'])
  register(cache, writeScript(dir, 'q.js', 'module.exports = (x) => { let n = 0; for (let i = 0; i < x; i++) n += i; return n }\n'), [
    '--name',
    'q',
    '--engine',
    'quickjs',
  ])
  writeFileSync(join(dir, 'in.json'), '{"x": 21}')
  // console lines, then a result or an error: n lines of 9 to 14 bytes
  const logThen =
    'module.exports = (n) => { for (let i = 0; i < n; i++) console.log("line " + i); if (n === 7) throw new Error("seven"); return {n} }\n'
  register(cache, writeScript(dir, 'logthen.js', logThen), ['--name', 'logthen'])
  register(cache, join(dir, 'logthen.js'), ['--engine', 'quickjs'])

  it('starts after the first run, listens on a private socket, and leaves the store verifiable', async () => {
    assert.deepEqual(daemonFiles(cache), [])
    assert.equal(burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache}).stdout, '{"y":2}\n')
    await daemonUp(cache)
    const files = daemonFiles(cache)
    assert.equal(files.length, 2)
    assert.match(files[0], /^[0-9a-f]{20}\.lock$/)
    assert.equal(statSync(join(cache, 'daemon')).mode & 0o777, 0o700)
    assert.equal(statSync(join(cache, 'daemon', files[1])).mode & 0o777, 0o600)
    assert.equal(burn(['verify'], {cacheDir: cache}).code, 0)
    // the next call is served by that daemon
    assert.deepEqual(served(burn(['run', 'double', '--input', '{"x":2}'], {cacheDir: cache, env: viaDaemon})).stdout, '{"y":4}\n')
  })

  // [args, stdin, cwd]: each case runs directly and through the daemon.
  const cases: Array<[string, string[], string?, string?]> = [
    ['a hit', ['run', 'double', '--input', '{"x":4}']],
    ['--pretty', ['run', 'double', '--input', '{"x":4}', '--pretty']],
    ['--json', ['run', 'double', '--input', '{"x":4}', '--json']],
    ['a hash prefix', ['run', double.slice(0, 8), '--input', '{"x":5}']],
    ['stdin input', ['run', 'double'], '{"x":6}'],
    ['empty stdin is null', ['run', 'log'], ''],
    ['--input-file - ', ['run', 'double', '--input-file', '-'], '{"x":7}'],
    ["a relative --input-file, from the caller's cwd", ['run', 'double', '--input-file', 'in.json'], undefined, 'dir'],
    ['a missing --input-file', ['run', 'double', '--input-file', 'nope.json'], undefined, 'dir'],
    ['invalid JSON input', ['run', 'double', '--input', '{x']],
    ['console output', ['run', 'log', '--input', '"hi"']],
    ['a script that throws', ['run', 'throws']],
    ['a script that throws, --json', ['run', 'throws', '--json']],
    ['an unknown name', ['run', 'nosuch']],
    ['a timeout', ['run', 'spin', '--timeout', '300ms']],
    ['a timeout, --json', ['run', 'spin', '--timeout', '300ms', '--json']],
    ['a memory bomb', ['run', 'bomb', '--memory', '64MiB']],
    ['--max-output', ['run', 'big', '--max-output', '1000']],
    ['a BigInt result', ['run', 'bigint']],
    ['a result and a log larger than a pipe buffer', ['run', 'huge', '--engine', 'v8']],
    ['a result larger than a pipe buffer, quickjs', ['run', 'huge', '--engine', 'quickjs']],
    ['quickjs', ['run', 'q', '--engine', 'quickjs', '--input', '1000']],
    ['quickjs out of fuel', ['run', 'q', '--engine', 'quickjs', '--input', '100000', '--fuel', '1000']],
    ['a bad limit', ['run', 'double', '--timeout', 'soon']],
  ]
  // (refused by the client's own parse, before any daemon or run child: the same code either way)
  const clientSide = new Set(['a bad limit'])
  for (const [name, args, stdin, cwd] of cases) {
    it(`gives exactly a direct run's output and exit code: ${name}`, async () => {
      await daemonUp(cache)
      const opts = {cacheDir: cache, input: stdin, cwd: cwd === 'dir' ? dir : undefined}
      const a = burn(args, {...opts, env: direct})
      const viaIt = burn(args, {...opts, env: viaDaemon})
      const b = clientSide.has(name) ? viaIt : served(viaIt)
      assert.deepEqual(strip(b), strip(a))
      if (args[1] === 'huge') assert.deepEqual([a.code, a.stdout.length, a.stderr.length], [0, (1 << 20) + 3, 300001])
      assert.equal(b.signal, null)
    })
  }

  for (const engine of ['v8', 'quickjs']) {
    it(`keeps console lines before the result in a merged 2>&1, as a direct run does: ${engine}`, async () => {
      await daemonUp(cache)
      const lines = (n: number) => Array.from({length: n}, (_, i) => `line ${i}\n`).join('')
      // 20000 lines: 228890 bytes, beyond a pipe's buffer; 7 throws (with --json, the error on stdout)
      const want: Array<[string[], string, number]> = [
        [['--input', '3'], lines(3) + '{"n":3}\n', 0],
        [['--input', '20000'], lines(20000) + '{"n":20000}\n', 0],
        [['--input', '7', '--json'], lines(7) + '{"error":{"code":5,"kind":"scriptError","message":"Error: seven"', 5],
      ]
      for (const [args, out, code] of want) {
        for (const env of [direct, daemonOnly]) {
          // several times through the daemon: the order must not depend on a lucky read
          for (let i = 0; i < (env === direct ? 1 : 3); i++) {
            const r = burn(['run', 'logthen', '--engine', engine, ...args, '--timeout', '60s'], {cacheDir: cache, env, merge: true})
            assert.equal(r.code, code, r.stdout.slice(-300))
            assert.equal(r.stdout.slice(0, out.length), out, `${engine} ${args} ${env === direct ? 'direct' : 'daemon'}`)
          }
        }
      }
    })

    it(`ends a call with its own exit code when its output's reader goes away: ${engine}`, async () => {
      await daemonUp(cache)
      // (20000 console lines on quickjs take seconds on a loaded machine: the default 5 s is not what this tests)
      const LONG = ['--timeout', '60s']
      for (const env of [direct, daemonOnly]) {
        const how = env === direct ? 'direct' : 'daemon'
        // stderr gone: the console lines are dropped, the result still comes
        const a = await burnAsync(['run', 'logthen', '--engine', engine, '--input', '20000', ...LONG], {
          cacheDir: cache,
          env,
          closeOutput: ['stderr'],
        })
        assert.deepEqual([a.code, a.stdout], [0, '{"n":20000}\n'], how)
        // still counted against --max-log: the same exit 6 as with a reader
        const b = await burnAsync(['run', 'logthen', '--engine', engine, '--input', '20000', '--max-log', '64KiB', ...LONG], {
          cacheDir: cache,
          env,
          closeOutput: ['stderr'],
        })
        assert.deepEqual([b.code, b.stdout], [6, ''], how)
        // both gone (`2>&1 | head -1`)
        for (const [input, code] of [
          ['20000', 0],
          ['7', 5],
        ] as const) {
          const c = await burnAsync(['run', 'logthen', '--engine', engine, '--input', input, ...LONG], {
            cacheDir: cache,
            env,
            closeOutput: ['stdout', 'stderr'],
          })
          assert.deepEqual([c.code, c.signal], [code, null], `${how} ${input}`)
        }
      }
      assert.equal(burn(['verify'], {cacheDir: cache}).code, 0)
    })
  }

  it('runs the script in a runner process of the daemon', async () => {
    const pid = await daemonUp(cache)
    register(cache, writeScript(dir, 'slow.js', 'module.exports = () => new Promise((r) => setTimeout(() => r("done"), 600))\n'), [
      '--name',
      'slow',
    ])
    const run = burnAsync(['run', 'slow'], {cacheDir: cache, env: daemonOnly})
    let runner: {pid: number; cmd: string} | undefined
    for (let i = 0; i < 40 && !runner; i++) {
      await sleep(25)
      runner = childrenOf(pid).find((c) => c.cmd.includes('run-child.cjs --pooled') && alive(c.pid))
    }
    assert.ok(runner, 'a pooled runner of the daemon')
    assert.equal((await run).stdout, '"done"\n')
  })

  it('leaves the client it serves without node:crypto and node:child_process (what only a direct run needs)', async () => {
    const own = tmp()
    const list = join(own, 'modules.txt')
    // (only the `burn` process writes its list: the daemon and its runners load the preload too)
    const preload = writeScript(
      own,
      'list.cjs',
      `if (process.argv[1].endsWith('run.js')) process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')))\n`,
    )
    const env = {NODE_OPTIONS: `--require ${preload}`}
    register(own, writeScript(own, 'one.js', 'module.exports = (x) => x + 1\n'), ['--name', 'one'])
    assert.equal(burn(['run', 'one', '--input', '1'], {cacheDir: own, env}).stdout, '2\n')
    await daemonUp(own)
    const r = served(burn(['run', 'one', '--input', '2'], {cacheDir: own, env: {...env, ...viaDaemon}}))
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '3\n', ''])
    const loaded = readFileSync(list, 'utf8').split('\n')
    assert.deepEqual(
      ['NativeModule crypto', 'NativeModule child_process'].filter((m) => loaded.includes(m)),
      [],
    )
    assert.ok(loaded.includes('NativeModule net'), 'the list is of the process that called the daemon')
  })

  it('counts hits exactly under 8 concurrent runs', async () => {
    await daemonUp(cache)
    const before = stats(cache)
    const rs = await Promise.all(
      Array.from({length: 8}, (_, i) => burnAsync(['run', 'double', '--input', `{"x":${i}}`], {cacheDir: cache, env: daemonOnly})),
    )
    assert.deepEqual(
      rs.map((r) => [r.code, r.stdout]),
      rs.map((_, i) => [0, `{"y":${i * 2}}\n`]),
    )
    const after = stats(cache)
    assert.equal(after.hits - before.hits, 8)
    assert.equal(after.misses - before.misses, 0)
  })

  it('has the next runner load the script its predecessor ran, before its call comes', async () => {
    await daemonUp(cache)
    burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache, env: daemonOnly})
    await sleep(300)
    const before = stats(cache)
    assert.equal(burn(['run', 'double', '--input', '{"x":2}'], {cacheDir: cache, env: daemonOnly}).stdout, '{"y":4}\n')
    const after = stats(cache)
    assert.equal(after.hits - before.hits, 1)
    assert.equal((after.preloadedHits ?? 0) - (before.preloadedHits ?? 0), 1)
    // another script: the preload is not used, the call loads as usual
    assert.equal(burn(['run', 'log', '--input', '1'], {cacheDir: cache, env: daemonOnly}).stdout, '[1,1]\n')
    assert.equal(stats(cache).preloadedHits, after.preloadedHits)
  })

  it('has the next runner ready for the call that followed last time: alternating scripts both preload', async () => {
    await daemonUp(cache)
    const call = (name: string, want: string) => {
      assert.equal(burn(['run', name, '--input', '{"x":3}'], {cacheDir: cache, env: daemonOnly}).stdout, want)
    }
    for (let i = 0; i < 2; i++) {
      call('double', '{"y":6}\n')
      await sleep(300)
      call('log', '[{"x":3},{"x":3}]\n')
      await sleep(300)
    }
    const before = stats(cache)
    call('double', '{"y":6}\n')
    await sleep(300)
    call('log', '[{"x":3},{"x":3}]\n')
    assert.equal((stats(cache).preloadedHits ?? 0) - (before.preloadedHits ?? 0), 2)
  })

  it('serves a v8 call with a runner made ready for quickjs: the same engine tag, a hit, no compile', async () => {
    await daemonUp(cache)
    for (let i = 0; i < 2; i++)
      assert.equal(burn(['run', 'q', '--engine', 'quickjs', '--input', '10'], {cacheDir: cache, env: daemonOnly}).stdout, '45\n')
    await sleep(300)
    const before = stats(cache)
    const r = burn(['run', 'double', '--input', '{"x":8}', '--json'], {cacheDir: cache, env: daemonOnly})
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(json(r), {hash: double, cache: 'hit', result: {y: 16}})
    const after = stats(cache)
    assert.equal(after.hits - before.hits, 1)
    assert.equal(after.misses - before.misses, 0)
    assert.equal(after.compiles - before.compiles, 0)
    assert.equal(after.codeCacheRejections - before.codeCacheRejections, 0)
  })

  it("holds the call's own limits in a quickjs sandbox made ahead for the call before", async () => {
    await daemonUp(cache)
    const q = (...extra: string[]) =>
      burn(['run', 'q', '--engine', 'quickjs', '--input', '10', ...extra], {cacheDir: cache, env: daemonOnly})
    for (let i = 0; i < 2; i++) assert.equal(q('--max-output', '1KiB').stdout, '45\n')
    await sleep(300)
    const over = q('--max-output', '1')
    assert.deepEqual([over.code, over.stderr], [6, 'Error: result is at least 2 bytes, over --max-output 1 bytes\n'])
  })

  it("holds a slow client's output back in its runner, not in its own memory", async () => {
    const pid = await daemonUp(cache)
    register(cache, writeScript(dir, 'forty.js', 'module.exports = () => "x".repeat(40 << 20)\n'), ['--name', 'forty'])
    const runners = () => childrenOf(pid).filter((c) => c.cmd.includes('run-child.cjs --pooled')).length
    // The client's stdout is a pipe nobody reads until the test says so. Relayed without
    // backpressure, the 40 MiB would all wait in the daemon and the call's runner be gone within
    // moments; with it, the runner stays in its write, beside the idle runner for the next call,
    // for as long as nobody reads. Gated on a file, not a sleep: on a loaded machine the call
    // can take seconds to reach its write.
    const go = join(dir, 'forty.go')
    const env = {...process.env, BURN_CACHE_DIR: cache, BURN_DAEMON_IDLE: '15s', ...daemonOnly}
    const reader = `until [ -e "${go}" ]; do sleep 0.05; done; wc -c`
    const client = spawn('bash', ['-c', `"${process.execPath}" "${BIN}" run forty | (${reader})`], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    client.stdout.on('data', (d: Buffer) => (out += d))
    const closed = new Promise((resolve) => client.on('close', resolve))
    const deadline = Date.now() + 30_000
    while (runners() < 2 && Date.now() < deadline) await sleep(100)
    await sleep(1500)
    const during = runners()
    writeFileSync(go, '')
    await closed
    assert.equal(out.trim(), String((40 << 20) + 3))
    assert.equal(during, 2)
  })

  it('answers a client that was still reading its stdin when the daemon stopped', async () => {
    const pid = await daemonUp(cache)
    const env = {...process.env, BURN_CACHE_DIR: cache, BURN_DAEMON_IDLE: '15s'}
    const client = spawn(process.execPath, [BIN, 'run', 'double'], {env, stdio: ['pipe', 'pipe', 'pipe']})
    let out = ''
    client.stdout.on('data', (d: Buffer) => (out += d))
    const code = new Promise((resolve) => client.on('close', resolve))
    await sleep(300)
    assert.equal(burn(['daemon', 'stop'], {cacheDir: cache}).code, 0)
    assert.ok(await gone(pid))
    client.stdin.end('{"x":21}')
    const ended = await Promise.race([code, sleep(15_000).then(() => 'still running after 15 s')])
    if (ended !== 0) client.kill('SIGKILL')
    assert.equal(ended, 0)
    assert.equal(out, '{"y":42}\n')
  })

  it('never runs a compiled form changed after its runner loaded it: a flipped byte is a miss, set aside', async () => {
    await daemonUp(cache)
    const tag = readdirSync(join(cache, 'compiled')).find((t) => !t.startsWith('quickjs'))!
    const artifact = join(cache, 'compiled', tag, double.slice(0, 2), double)
    // two runs: the daemon's next runner has `double` loaded before the damage
    burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache, env: daemonOnly})
    burn(['run', 'double', '--input', '{"x":1}'], {cacheDir: cache, env: daemonOnly})
    await sleep(300)
    const bytes = readFileSync(artifact)
    bytes[bytes.length - 3] ^= 0xff
    writeFileSync(artifact, bytes)
    const before = stats(cache)
    assert.equal(burn(['run', 'double', '--input', '{"x":9}'], {cacheDir: cache, env: daemonOnly}).stdout, '{"y":18}\n')
    const after = stats(cache)
    assert.equal(after.misses - before.misses, 1)
    assert.equal(after.hits - before.hits, 0)
    assert.equal(after.preloadedHits, before.preloadedHits)
    assert.ok(readdirSync(join(cache, 'damaged')).length > 0)
    assert.equal(burn(['run', 'double', '--input', '{"x":9}'], {cacheDir: cache, env: daemonOnly}).stdout, '{"y":18}\n')
    assert.equal(burn(['verify'], {cacheDir: cache}).code, 0)
  })

  it('answers a forgotten script with exit 3 even when its runner had loaded it', async () => {
    await daemonUp(cache)
    const h = register(cache, writeScript(dir, 'gone.js', 'module.exports = 1\n'), ['--name', 'gone'])
    burn(['run', 'gone'], {cacheDir: cache, env: daemonOnly})
    burn(['run', 'gone'], {cacheDir: cache, env: daemonOnly})
    await sleep(300)
    assert.equal(burn(['forget', 'gone'], {cacheDir: cache}).code, 0)
    const r = burn(['run', h], {cacheDir: cache, env: daemonOnly})
    assert.equal(r.code, 3)
    assert.equal(r.stderr, `Error: no script matches "${h}"; \`burn list\` shows what is registered, \`burn register <file>\` adds one\n`)
  })

  it('kills the runner when its client goes away', async () => {
    const pid = await daemonUp(cache)
    register(
      cache,
      writeScript(dir, 'long.js', 'module.exports = () => { console.error("started"); return new Promise((r) => setTimeout(r, 20000)) }\n'),
      ['--name', 'long'],
    )
    const idle = new Set(childrenOf(pid).map((c) => c.pid))
    const client = spawn(process.execPath, [BIN, 'run', 'long', '--timeout', '30s'], {
      env: {...process.env, BURN_CACHE_DIR: cache, ...daemonOnly},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<NodeJS.Signals | null>((r) => client.on('close', (_code, signal) => r(signal)))
    // the script runs once its console line comes back through the daemon
    await new Promise<void>((r) => client.stderr.on('data', (d: Buffer) => d.toString().includes('started') && r()))
    const runner = [...idle].find((r) => alive(r))
    assert.ok(runner, 'the pooled runner the daemon had started')
    client.kill('SIGKILL')
    assert.equal(await exited, 'SIGKILL')
    assert.ok(await gone(runner, 3000), 'the runner of the abandoned call was killed')
    assert.equal(alive(pid), true)
    assert.equal(burn(['run', 'double', '--input', '{"x":3}'], {cacheDir: cache}).stdout, '{"y":6}\n')
  })

  it('survives its own SIGKILL: the next run is correct, and a new daemon takes over', async () => {
    const pid = await daemonUp(cache)
    process.kill(pid, 'SIGKILL')
    assert.ok(await gone(pid))
    // its socket refuses the connection: the call runs directly, counted as a fallback and, under
    // BURN_DEBUG, said
    const before = stats(cache)['daemon.fallbacks'] ?? 0
    const r = burn(['run', 'double', '--input', '{"x":3}'], {cacheDir: cache, env: {BURN_DEBUG: '1'}})
    assert.deepEqual(strip(r), {
      code: 0,
      signal: null,
      stdout: '{"y":6}\n',
      stderr: 'burn: debug: the call runs directly: the run daemon socket refused the connection (its daemon is gone)\n',
    })
    assert.equal(stats(cache)['daemon.fallbacks'], before + 1)
    // the dead daemon's lock goes stale by its PID: a new one starts on a following run
    let next = pid
    for (let i = 0; i < 20 && next === pid; i++) {
      burn(['run', 'double', '--input', '{"x":3}'], {cacheDir: cache})
      await sleep(100)
      next = await daemonUp(cache)
    }
    assert.notEqual(next, pid)
    assert.equal(served(burn(['run', 'double', '--input', '{"x":3}'], {cacheDir: cache, env: viaDaemon})).stdout, '{"y":6}\n')
  })
})

describe('run daemon lifetime and scope', () => {
  it('is never started with BURN_DAEMON=off', async () => {
    const cache = tmp()
    register(cache, writeScript(tmp(), 'a.js', 'module.exports = 1\n'), ['--name', 'a'])
    for (let i = 0; i < 3; i++) assert.equal(burn(['run', 'a'], {cacheDir: cache, env: direct}).stdout, '1\n')
    await sleep(300)
    assert.deepEqual(daemonFiles(cache), [])
  })

  it('exits when its cache dir is removed, and after BURN_DAEMON_IDLE without calls', async () => {
    const c1 = tmp()
    register(c1, writeScript(tmp(), 'a.js', 'module.exports = 1\n'), ['--name', 'a'])
    burn(['run', 'a'], {cacheDir: c1})
    const p1 = await daemonUp(c1)
    rmSync(c1, {recursive: true, force: true})
    assert.ok(await gone(p1), 'daemon left with its store')

    const c2 = tmp()
    register(c2, writeScript(tmp(), 'a.js', 'module.exports = 1\n'), ['--name', 'a'])
    // (3 s: long enough for a loaded machine's test to see it up before it idles out)
    burn(['run', 'a'], {cacheDir: c2, env: {BURN_DAEMON_IDLE: '3s'}})
    const p2 = await daemonUp(c2)
    assert.ok(await gone(p2, 15_000), 'daemon left when idle')
    assert.deepEqual(
      daemonFiles(c2).filter((f) => f.endsWith('.sock')),
      [],
    )
  })

  it('starting for a cache dir removed meanwhile, it makes nothing and exits', async () => {
    // What happens when `rm -rf` of a cache dir races the daemon a `burn run` just started in it.
    const cache = tmp()
    register(cache, writeScript(tmp(), 'a.js', 'module.exports = 1\n'), ['--name', 'a'])
    rmSync(cache, {recursive: true, force: true})
    const d = spawn(
      process.execPath,
      [join(ROOT, 'dist', 'fast', 'daemon.js'), cache, join(cache, 'daemon', 'k.sock'), join(cache, 'daemon', 'k.lock')],
      {stdio: 'ignore'},
    )
    const code = await new Promise((r) => d.on('exit', r))
    assert.equal(code, 0)
    assert.equal(existsSync(cache), false)
    // The store there but no daemon dir yet: that one directory is made, private.
    const c2 = tmp()
    register(c2, writeScript(tmp(), 'a.js', 'module.exports = 1\n'), ['--name', 'a'])
    rmSync(join(c2, 'daemon'), {recursive: true, force: true})
    const d2 = spawn(
      process.execPath,
      [join(ROOT, 'dist', 'fast', 'daemon.js'), c2, join(c2, 'daemon', 'k.sock'), join(c2, 'daemon', 'k.lock')],
      {stdio: 'ignore'},
    )
    try {
      const pid = await daemonUp(c2)
      assert.equal(pid, d2.pid)
      assert.equal(statSync(join(c2, 'daemon')).mode & 0o777, 0o700)
    } finally {
      d2.kill('SIGTERM')
    }
    assert.ok(await gone(d2.pid!), 'daemon left on SIGTERM')
  })

  it('leaves its files when killed -9; burn gc removes them, and nothing of a live daemon', async () => {
    const cache = tmp()
    register(cache, writeScript(tmp(), 'a.js', 'module.exports = 1\n'), ['--name', 'a'])
    burn(['run', 'a'], {cacheDir: cache})
    const dead = await daemonUp(cache)
    const deadFiles = daemonFiles(cache)
    process.kill(dead, 'SIGKILL')
    assert.ok(await gone(dead))
    // a daemon of another environment, alive
    burn(['run', 'a'], {cacheDir: cache, env: {TZ: 'Asia/Tokyo'}})
    for (let i = 0; i < 800 && daemonFiles(cache).filter((f) => f.endsWith('.sock')).length < 2; i++) await sleep(25)
    const live = daemonFiles(cache).filter((f) => !deadFiles.includes(f))
    assert.equal(live.length, 2, `no second daemon came up: ${daemonFiles(cache)}`)
    const dry = json(burn(['gc', '--json', '--dry-run'], {cacheDir: cache}))
    assert.deepEqual(
      dry.actions.filter((a: any) => a.kind === 'dead-daemon').map((a: any) => [a.path, a.done]),
      deadFiles.map((f) => [`daemon/${f}`, false]),
    )
    assert.equal(daemonFiles(cache).length, 4)
    const r = json(burn(['gc', '--json'], {cacheDir: cache}))
    const acts = r.actions.filter((a: any) => a.kind === 'dead-daemon')
    assert.deepEqual(
      acts.map((a: any) => [a.path, a.done]),
      deadFiles.map((f) => [`daemon/${f}`, true]),
    )
    assert.match(acts[0].detail, new RegExp(`^owner process ${dead} is gone$`))
    assert.deepEqual(daemonFiles(cache), live)
    assert.equal(burn(['run', 'a'], {cacheDir: cache, env: {TZ: 'Asia/Tokyo'}}).stdout, '1\n')
    assert.equal(burn(['verify'], {cacheDir: cache}).code, 0)
    assert.match(burn(['gc'], {cacheDir: cache}).stdout, /^nothing to remove\n/)
  })

  it('serves only its own environment: a different TZ gets its own daemon and its own answer', async () => {
    const cache = tmp()
    register(cache, writeScript(tmp(), 'tz.js', 'module.exports = () => new Date(0).getHours()\n'), ['--name', 'tz'])
    const at = (TZ: string) => burn(['run', 'tz'], {cacheDir: cache, env: {TZ}}).stdout
    assert.equal(at('UTC'), '0\n')
    await daemonUp(cache)
    assert.equal(at('UTC'), '0\n')
    assert.equal(at('Asia/Tokyo'), '9\n')
    for (let i = 0; i < 100 && daemonFiles(cache).filter((f) => f.endsWith('.sock')).length < 2; i++) await sleep(25)
    assert.equal(at('Asia/Tokyo'), '9\n')
    assert.equal(at('UTC'), '0\n')
    assert.equal(daemonFiles(cache).filter((f) => f.endsWith('.sock')).length, 2)
    assert.equal(burn(['verify'], {cacheDir: cache}).code, 0)
  })
})

describe('burn daemon status and stop', () => {
  it('lists the running daemon, stops it cleanly, and removes its files', async () => {
    const cache = tmp()
    register(cache, writeScript(tmp(), 'a.js', 'module.exports = 1\n'), ['--name', 'a'])
    assert.deepEqual(json(burn(['daemon', 'status', '--json'], {cacheDir: cache})), {daemons: []})
    assert.equal(burn(['daemon', 'status'], {cacheDir: cache}).stdout, 'no run daemon\n')
    burn(['run', 'a'], {cacheDir: cache})
    const pid = await daemonUp(cache)
    const [d] = json(burn(['daemon', 'status', '--json'], {cacheDir: cache})).daemons
    assert.equal(d.pid, pid)
    assert.equal(d.running, true)
    assert.equal(d.listening, true)
    assert.match(d.key, /^[0-9a-f]{20}$/)
    const stop = burn(['daemon', 'stop'], {cacheDir: cache})
    assert.equal(stop.stdout, 'stopped 1 run daemon\n')
    assert.equal(stop.code, 0)
    assert.equal(alive(pid), false)
    assert.deepEqual(daemonFiles(cache), [])
    assert.equal(json(burn(['daemon', 'stop', '--json'], {cacheDir: cache})).stopped, 0)
    // a stopped daemon costs nothing: the next run is direct and starts another
    assert.equal(burn(['run', 'a'], {cacheDir: cache}).stdout, '1\n')
    assert.notEqual(await daemonUp(cache), pid)
    assert.equal(burn(['daemon', 'stop'], {cacheDir: cache}).code, 0)
  })
})

describe('falling back from the run daemon', () => {
  it('never prints console output twice: a daemon that dies after relaying some fails the call, not runs it again', async () => {
    const cache = tmp()
    register(
      cache,
      writeScript(tmp(), 'once.js', 'module.exports = () => { console.error("once"); return new Promise((r) => setTimeout(r, 20000)) }\n'),
      ['--name', 'once'],
    )
    burn(['run', 'once', '--timeout', '1ms'], {cacheDir: cache})
    const pid = await daemonUp(cache)
    const before = stats(cache)['daemon.fallbacks'] ?? 0
    const client = spawn(process.execPath, [BIN, 'run', 'once', '--timeout', '60s'], {
      env: {...process.env, BURN_CACHE_DIR: cache, BURN_DAEMON_IDLE: '15s'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    client.stdout.on('data', (d: Buffer) => (stdout += d))
    const closed = new Promise<number | null>((r) => client.on('close', (code) => r(code)))
    // the console line came back through the daemon: the script runs in its runner
    await new Promise<void>((r) => client.stderr.on('data', (d: Buffer) => (stderr += d).includes('once') && r()))
    process.kill(pid, 'SIGKILL')
    const code = await Promise.race([closed, sleep(30_000).then(() => 'still running after 30 s')])
    if (code !== 1) client.kill('SIGKILL')
    assert.deepEqual(
      [code, stdout, stderr],
      [
        1,
        '',
        'once\nError: the burn run daemon stopped during the call (part of its output was already printed); ' +
          'run it again (burn daemon stop ends a stuck daemon)\n',
      ],
    )
    // not a fallback: nothing ran directly
    assert.equal(stats(cache)['daemon.fallbacks'] ?? 0, before)
  })

  it('BURN_DAEMON=require: a first call waits for the daemon it starts, and is served by it', async () => {
    const cache = tmp()
    register(cache, writeScript(tmp(), 'a.js', 'module.exports = 1\n'), ['--name', 'a'])
    assert.deepEqual(daemonFiles(cache), [])
    assert.deepEqual(strip(served(burn(['run', 'a'], {cacheDir: cache, env: viaDaemon}))), {
      code: 0,
      signal: null,
      stdout: '1\n',
      stderr: '',
    })
  })

  it('BURN_DAEMON=require: a call the daemon cannot serve fails with exit 1 and why, instead of running directly', async () => {
    // a cache dir whose daemon socket path would be over the 100 bytes a Unix socket takes
    const cache = join(tmp(), 'c'.repeat(70))
    register(cache, writeScript(tmp(), 'a.js', 'module.exports = 1\n'), ['--name', 'a'])
    const why = 'the run daemon socket path of this cache dir would be too long'
    assert.deepEqual(strip(burn(['run', 'a'], {cacheDir: cache, env: daemonOnly})), {
      code: 1,
      signal: null,
      stdout: '',
      stderr: `Error: the burn run daemon did not serve the call: ${why} (BURN_DAEMON=require)\n`,
    })
    assert.deepEqual(strip(burn(['run', 'a', '--json'], {cacheDir: cache, env: daemonOnly})), {
      code: 1,
      signal: null,
      stdout:
        JSON.stringify({
          error: {code: 1, kind: 'internal', message: `the burn run daemon did not serve the call: ${why} (BURN_DAEMON=require)`},
        }) + '\n',
      stderr: '',
    })
    // without it, the call runs directly; BURN_DEBUG says why
    assert.deepEqual(strip(burn(['run', 'a'], {cacheDir: cache, env: {BURN_DEBUG: '1'}})), {
      code: 0,
      signal: null,
      stdout: '1\n',
      stderr: `burn: debug: the call runs directly: ${why}\n`,
    })
    assert.deepEqual(strip(burn(['run', 'a'], {cacheDir: cache, env: {BURN_DEBUG: '1', ...direct}})), {
      code: 0,
      signal: null,
      stdout: '1\n',
      stderr: 'burn: debug: the call runs directly: BURN_DAEMON=off\n',
    })
  })
})

// BURN_FAULT and the other knobs are part of a daemon's key (where.ts): a call that sets them is
// served by a daemon, and runners, started with them. A fault point fires in whichever process
// reaches it: a runner (what a direct run's child would reach) or the daemon itself.
describe('fault points with the run daemon', () => {
  const cache = tmp()
  register(cache, writeScript(tmp(), 'double.js', 'module.exports = (x) => ({y: x.x * 2})\n'), ['--name', 'double'])
  const call = (env: Record<string, string>) => burn(['run', 'double', '--input', '{"x":2}', '--timeout', '30s'], {cacheDir: cache, env})

  // A runner killed at its stats write is a death the supervisor counts as a breach, with a stats
  // write of its own that reaches the same point: the direct client dies there, and so does the
  // daemon that supervises the runner. Its client then fails cleanly, or falls back and dies as
  // the direct client does; never a result.
  for (const point of ['stats:tmp-written', 'stats:renamed']) {
    it(`a runner and its daemon killed at ${point}: the direct run's outcome, or a clean exit 1 under BURN_DAEMON=require`, () => {
      const a = call({...direct, BURN_FAULT: point})
      assert.deepEqual(strip(a), {code: null, signal: 'SIGKILL', stdout: '', stderr: ''})
      assert.deepEqual(strip(call({...daemonOnly, BURN_FAULT: point})), {
        code: 1,
        signal: null,
        stdout: '',
        stderr:
          'Error: the burn run daemon stopped during the call (BURN_DAEMON=require); run it again (burn daemon stop ends a stuck daemon)\n',
      })
      // its socket left behind: the fallback is counted, where the client reaches the point too
      assert.deepEqual(strip(call({BURN_FAULT: point})), strip(a))
      assert.deepEqual(strip(served(call(viaDaemon))), {code: 0, signal: null, stdout: '{"y":4}\n', stderr: ''})
      assert.equal(burn(['verify'], {cacheDir: cache}).code, 0)
    })
  }

  // a call whose daemon was not up (killed at its start): run directly, said under BURN_DEBUG
  const ranDirectly = {code: 0, signal: null, stdout: '{"y":4}\n', stderr: 'burn: debug: the call runs directly: no run daemon yet\n'}

  it('a daemon killed once it listens, before its socket has the name clients use (daemon:listening): that name never appears; gc removes what it left', async () => {
    const env = {BURN_FAULT: 'daemon:listening', BURN_DEBUG: '1'}
    assert.deepEqual(strip(call(env)), ranDirectly)
    // the daemon that call started dies at the point: its socket is left under the bound name
    const dir = join(cache, 'daemon')
    const bound = () => (existsSync(dir) ? readdirSync(dir) : []).filter((f) => f.endsWith('~.sock'))
    const until = Date.now() + 30_000
    while (bound().length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    assert.equal(bound().length, 1, readdirSync(dir).join(' '))
    const key = bound()[0].slice(0, -'~.sock'.length)
    const pid = Number(JSON.parse(readFileSync(join(dir, `${key}.lock`), 'utf8')).pid)
    while (procState(pid) !== 'gone' && procState(pid) !== 'Z' && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    assert.ok(!existsSync(join(dir, `${key}.sock`)), 'a socket by the name clients use, of a daemon that never got past listen')
    assert.equal(burn(['gc'], {cacheDir: cache}).code, 0)
    assert.deepEqual(bound(), [])
    assert.deepEqual(strip(served(call(viaDaemon))), {code: 0, signal: null, stdout: '{"y":4}\n', stderr: ''})
  })

  it('a daemon killed at its own start (lock:acquired): a direct run with the right result, or exit 1 under BURN_DAEMON=require', () => {
    const env = {BURN_FAULT: 'lock:acquired', BURN_DEBUG: '1'}
    assert.deepEqual(strip(call(env)), ranDirectly)
    assert.deepEqual(strip(call({...env, ...daemonOnly})), {
      code: 1,
      signal: null,
      stdout: '',
      stderr: 'Error: the burn run daemon did not serve the call: no run daemon came up within 10s (BURN_DAEMON=require)\n',
    })
    // the daemon of the environment without the knob is another one, and serves
    assert.deepEqual(strip(served(call(viaDaemon))), {code: 0, signal: null, stdout: '{"y":4}\n', stderr: ''})
    assert.equal(burn(['verify'], {cacheDir: cache}).code, 0)
  })
})
