import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {burn, burnAsync, burnPeak, json, register, stats, tmp, writeScript, type Result} from '../helpers.js'

// The quickjs engine end to end: the built binary, a temporary cache, exact exit codes.
const dir = tmp('burn-quickjs-')
const cacheDir = `${dir}/cache`
const Q = ['--engine', 'quickjs']

// Every script of this file, registered by one `burn register` (one process start, not 30).
const SOURCES: Record<string, string> = {
  normal: 'module.exports = (x) => ({sum: x.a + x.b})',
  async: `
    const later = (v) => ({then: (ok) => Promise.resolve().then(() => ok(v))})
    module.exports = async (x) => { const a = await later(x.n); const b = await Promise.all([a, Promise.resolve(2)]); return {a, b, undef: undefined} }`,
  value: 'module.exports = undefined',
  throw: 'function inner() { throw new TypeError("bad thing") }\nmodule.exports = () => inner()',
  throwValue: 'module.exports = async () => { throw {code: 7} }',
  bigint: 'module.exports = () => ({rows: [{id: 1}, {id: 2n}]})',
  cycle: 'module.exports = () => { const o = {a: {}}; o.a.back = o; return o }',
  spoil: 'JSON.stringify = () => "not json"; module.exports = () => ({ok: true})',
  echo: 'module.exports = (x) => x',
  loud: 'console.log("the body ran"); module.exports = () => 1',
  // Sums with Math.random, so the seeded PRNG is part of what must repeat exactly.
  fuel: 'module.exports = (n) => { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return {s, r: Math.random()} }',
  bombPush: 'module.exports = () => { const a = []; for (;;) a.push(1) }',
  bombBuffers: 'module.exports = () => { const a = []; for (;;) a.push(new ArrayBuffer(1e6)) }',
  bombFill: 'module.exports = () => new Array(5e8).fill(0)',
  bombFlatDoubling: 'module.exports = () => { let s = "x"; for (;;) { s += s; s.indexOf("y") } }',
  bombRepeat: 'module.exports = () => "x".repeat(2e8).length',
  // Millions of small objects: QuickJS may run out while making the "out of memory" error.
  bombObjects: 'module.exports = () => new Map(Array.from({length: 5e6}, (_, i) => [i, {i}])).size',
  bombDoubling: 'module.exports = () => { let s = "x"; for (;;) s += s }',
  spin: 'module.exports = () => { while (true) {} }',
  promiseLoop: 'module.exports = () => new Promise(() => { const f = () => Promise.resolve().then(f); f() })',
  never: 'module.exports = () => new Promise(() => {})',
  recurse: 'function f(n) { return f(n + 1) + 1 }\nmodule.exports = () => f(0)',
  big: 'module.exports = (n) => "y".repeat(n)',
  bigUtf8: 'module.exports = () => "é".repeat(600)',
  flood: 'module.exports = () => { for (;;) console.log("flood", {n: 1}) }',
  // Script code that runs while the result is serialized, after the script returned.
  spinInToJSON: 'module.exports = () => ({a: {toJSON() { for (;;) {} }}})',
  floodInToJSON: 'module.exports = () => ({a: {toJSON() { for (;;) console.log("flood") }}})',
  throwInToJSON: 'module.exports = () => ({a: {toJSON() { throw new RangeError("no json for you") }}})',
  defineBigIntToJSON: 'module.exports = () => { Object.defineProperty(BigInt.prototype, "toJSON", {get: () => () => "1"}); return 1n }',
  floodCaught: 'module.exports = () => { for (;;) { try { console.log("z".repeat(1e6)) } catch { return "caught" } } }',
}
// Results JSON.stringify alone would print wrongly or not at all, and what burn does with each
// (the `odd` script below builds them): the same on both engines.
const ODD_RESULTS: Record<string, {code: number; out: string}> = {
  fnToJSON: {code: 0, out: '{"f":"fn"}\n'},
  bigToJSON: {code: 7, out: 'Error: result is not JSON: a BigInt at $.b[1]\n'},
  symbolInArray: {code: 7, out: 'Error: result is not JSON: a symbol at $[1]\n'},
  symbolTop: {code: 7, out: 'Error: result is not JSON: a symbol at $\n'},
  fnInToJSON: {code: 7, out: 'Error: result is not JSON: a function at $.a\n'},
  flipToFunction: {code: 7, out: 'Error: result is not JSON: a value that changed while it was serialized at $\n'},
  flipFromFunction: {code: 0, out: '{"g":2}\n'},
  symbolKey: {code: 0, out: '{"a":1}\n'},
  undefinedAndHoles: {code: 0, out: '{"b":[null,null,3]}\n'},
  boxedAndSpecial: {code: 0, out: '[1,"s",true,null,null,0,"1970-01-01T00:00:00.000Z",{},{}]\n'},
  deep1000: {code: 0, out: `${'['.repeat(1000)}1${']'.repeat(1000)}\n`},
  deep100000: {code: 7, out: 'Error: result is not JSON: nesting too deep to serialize at $\n'},
  cycleViaToJSON: {code: 7, out: 'Error: result is not JSON: a cycle at $.a.self\n'},
  throwOnceThenFunction: {code: 7, out: 'Error: result is not JSON: a function at $.g\n'},
}
SOURCES.odd = `module.exports = (name) => {
  const nest = (n) => { let v = 1; for (let i = 0; i < n; i++) v = [v]; return v }
  let reads = 0
  const make = {
    fnToJSON: () => { const f = () => 1; f.toJSON = () => 'fn'; return {f} },
    bigToJSON: () => { BigInt.prototype.toJSON = function () { return String(this) }; return {b: [1, 2n]} },
    symbolInArray: () => [1, Symbol('s')],
    symbolTop: () => Symbol('t'),
    fnInToJSON: () => ({a: {toJSON: () => () => 1}}),
    flipToFunction: () => ({get g() { return reads++ === 0 ? () => 1 : 2 }}),
    flipFromFunction: () => ({get g() { return reads++ === 0 ? 2 : () => 1 }}),
    symbolKey: () => ({a: 1, [Symbol('k')]: 2}),
    undefinedAndHoles: () => ({a: undefined, b: [undefined, , 3]}),
    boxedAndSpecial: () => [new Number(1), new String('s'), new Boolean(true), NaN, Infinity, -0, new Date(0), new Map([[1, 2]]), new Set([1])],
    deep1000: () => nest(1000),
    deep100000: () => nest(100000),
    cycleViaToJSON: () => { const o = {}; o.self = o; return {a: {toJSON: () => o}} },
    throwOnceThenFunction: () => ({get g() { reads++; if (reads === 1) throw new Error('once'); return reads === 2 ? 1 : () => 1 }}),
  }
  return make[name]()
}`
const hashes = (() => {
  const files = Object.entries(SOURCES).map(([name, source]) => writeScript(dir, `${name}.js`, source))
  const r = burn(['register', ...files, ...Q, '--json'], {cacheDir})
  assert.equal(r.code, 0, r.stderr)
  return Object.fromEntries(
    (json(r).results as Array<{file: string; hash: string}>).map((o) => [o.file.replace(/^.*\/|\.js$/g, ''), o.hash]),
  )
})()
const script = (name: keyof typeof SOURCES) => hashes[name]

const run = (hash: string, args: string[] = [], input?: string) => burnAsync(['run', hash, ...Q, ...args], {cacheDir, input})
/** Registers one of the scripts above for v8 too, to compare the engines on it. */
const trustOnV8 = (name: keyof typeof SOURCES) =>
  assert.equal(burn(['register', `${dir}/${name}.js`, '--engine', 'v8'], {cacheDir}).code, 0)

/** burn itself ended normally: an exit code, no signal. */
function exitedCleanly(r: Result): void {
  assert.equal(r.signal, null, `burn was killed by ${r.signal}`)
  assert.notEqual(r.code, null)
}

const normal = script('normal')
async function normalRunStillWorks(): Promise<void> {
  const r = await run(normal, ['--input', '{"a":1,"b":2}'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, '{"sum":3}\n')
}

describe('quickjs: the script contract', {concurrency: 2}, () => {
  it('registers and runs, and a run after register is a cache hit', async () => {
    const file = writeScript(dir, 'basic.js', 'module.exports = (x) => x.map((n) => n * 2)')
    const reg = burn(['register', file, ...Q, '--json'], {cacheDir})
    assert.equal(reg.code, 0, reg.stderr)
    assert.equal(json(reg).results[0].status, 'compiled')
    const before = stats(cacheDir)
    const r = burn(['run', json(reg).results[0].hash, ...Q, '--input', '[1,2,3]', '--json'], {cacheDir})
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(json(r).result, [2, 4, 6])
    assert.equal(json(r).cache, 'hit')
    assert.equal(stats(cacheDir).hits, (before.hits ?? 0) + 1)
    // registering again is a hit too
    assert.equal(json(burn(['register', file, ...Q, '--json'], {cacheDir})).results[0].status, 'hit')
  })

  it('a script registered for v8 only is a miss on quickjs once, then a hit', async () => {
    const hash = register(cacheDir, writeScript(dir, 'v8only.js', 'module.exports = 41 + 1'))
    const first = json(burn(['run', hash, ...Q, '--json'], {cacheDir}))
    assert.deepEqual([first.cache, first.result], ['miss', 42])
    assert.equal(json(burn(['run', hash, ...Q, '--json'], {cacheDir})).cache, 'hit')
  })

  it('awaits async functions, thenables and promise chains', async () => {
    const hash = script('async')
    const r = await run(hash, ['--input', '{"n":5}'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '{"a":5,"b":[5,2]}\n')
    const v = await run(script('value'))
    assert.equal(v.stdout, 'null\n')
  })

  it('a syntax error fails register with exit 4, file, line and column, and stores nothing', () => {
    const file = writeScript(dir, 'syntax.js', 'const a = 1\nconst b = (\n\n  ]')
    const r = burn(['register', file, ...Q], {cacheDir})
    assert.equal(r.code, 4)
    assert.match(r.stderr, /syntax\.js:4:3: SyntaxError: /)
    assert.equal(burn(['list', '--json'], {cacheDir}).stdout.includes('syntax.js'), false)
  })

  it('a throw exits 5 with the message and the script stack', async () => {
    const hash = script('throw')
    const r = await run(hash)
    assert.equal(r.code, 5)
    assert.match(r.stderr, /^Error: TypeError: bad thing\n {4}at inner \(script-[0-9a-f]{12}\.js:1:\d+\)/)
    assert.doesNotMatch(r.stderr, /burn-prelude/)
    const thrown = await run(script('throwValue'))
    assert.equal(thrown.code, 5)
    assert.match(thrown.stderr, /thrown value: \{"code":7\}/)
  })

  it('a result JSON cannot hold exits 7 naming its path', async () => {
    const r = await run(script('bigint'))
    assert.equal(r.code, 7)
    assert.equal(r.stderr, 'Error: result is not JSON: a BigInt at $.rows[1].id\n')
    const cyc = await run(script('cycle'))
    assert.equal(cyc.code, 7)
    assert.equal(cyc.stderr, 'Error: result is not JSON: a cycle at $.a.back\n')
    const bad = await run(normal, ['--input', '{"a":'])
    assert.equal(bad.code, 7)
    assert.match(bad.stderr, /^Error: invalid JSON input: /)
  })

  it('the input is parsed before the script runs; invalid input reads as on v8', async () => {
    const loud = script('loud')
    trustOnV8('loud')
    for (const input of ['{"a":', '{"a":1}\u0000', '\u0000']) {
      const [q, v8] = await Promise.all([run(loud, [], input), burnAsync(['run', loud, '--engine', 'v8'], {cacheDir, input})])
      assert.equal(q.code, 7, q.stderr)
      assert.match(q.stderr, /^Error: invalid JSON input: /)
      assert.deepEqual([q.stdout, q.stderr], [v8.stdout, v8.stderr], JSON.stringify(input))
    }
    // escaped NUL and non-ASCII text cross the boundary intact, both ways
    const text = JSON.stringify({s: 'a\u0000b', u: '\u00e9\u2713\u{1F600}', n: [1.5, -0, 1e300]})
    const echo = await run(script('echo'), ['--input', text])
    assert.equal(echo.code, 0, echo.stderr)
    assert.equal(echo.stdout, `${JSON.stringify(JSON.parse(text))}\n`)
  })

  it('results follow one rule on both engines: same stdout, stderr and exit code', async () => {
    // Each case is the script's input; the script builds the result it names. Registered for
    // quickjs above, and for v8 here (a script registered only for quickjs never runs on v8).
    const cases = Object.keys(ODD_RESULTS)
    const odd = script('odd')
    trustOnV8('odd')
    const [q, v8] = await Promise.all([
      // (all cases at once on a few cores: the deepest takes ~2 s of CPU, so --timeout is set far
      // above what any case needs; a timeout is not what this corpus is about)
      Promise.all(cases.map((c) => run(odd, ['--input', JSON.stringify(c), '--timeout', '120s']))),
      Promise.all(
        cases.map((c) => burnAsync(['run', odd, '--engine', 'v8', '--input', JSON.stringify(c), '--timeout', '120s'], {cacheDir})),
      ),
    ])
    for (const [i, c] of cases.entries()) {
      assert.deepEqual(
        {code: q[i].code, stdout: q[i].stdout, stderr: q[i].stderr},
        {code: v8[i].code, stdout: v8[i].stdout, stderr: v8[i].stderr},
        c,
      )
      assert.deepEqual({code: q[i].code, out: q[i].code === 0 ? q[i].stdout : q[i].stderr}, ODD_RESULTS[c], c)
    }
  })

  it('a script cannot make burn print something that is not JSON', async () => {
    const r = await run(script('spoil'))
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '{"ok":true}\n')
  })
})

describe('quickjs: deterministic fuel', () => {
  const hash = script('fuel')
  const input = '60000'
  const withFuel = (fuel: number) => run(hash, ['--fuel', String(fuel)], input)

  it('finds the exact fuel a call needs: N succeeds, N-1 fails with exit 6 naming the value', async () => {
    let hi = 1
    while ((await withFuel(hi)).code !== 0) hi *= 2
    let lo = hi / 2 // fails (or is 0.5)
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2)
      if ((await withFuel(mid)).code === 0) hi = mid
      else lo = mid
    }
    const n = hi
    assert.ok(n > 1, `fuel need ${n}`)
    const ok = await withFuel(n)
    assert.equal(ok.code, 0, ok.stderr)
    const short = await withFuel(n - 1)
    assert.equal(short.code, 6)
    assert.equal(short.stderr, `Error: fuel exhausted: the script used more than --fuel ${n - 1}\n`)

    // The same call ten times, in concurrent processes: the identical outcome every time.
    const runs = await Promise.all(Array.from({length: 10}, (_, i) => withFuel(i % 2 ? n : n - 1)))
    for (const [i, r] of runs.entries()) {
      const ref = i % 2 ? ok : short
      assert.deepEqual([r.code, r.stdout, r.stderr], [ref.code, ref.stdout, ref.stderr], `run ${i}`)
    }
    await normalRunStillWorks()
  })
})

describe('quickjs: memory bombs under --memory 64MiB', {concurrency: 2}, () => {
  const bombs: Array<[string, keyof typeof SOURCES]> = [
    ['array push loop', 'bombPush'],
    ['many 1 MB ArrayBuffers', 'bombBuffers'],
    ['new Array(5e8).fill(0)', 'bombFill'],
    ['string doubling, flattened', 'bombFlatDoubling'],
    ['one huge string', 'bombRepeat'],
    ['millions of small objects', 'bombObjects'],
  ]
  // The sandbox's heap is capped at the limit, so the peak resident size of the process that ran
  // the bomb (VmHWM from /proc) stays under the limit plus what that process holds running a
  // trivial script, plus a margin for V8 tiering the sandbox's wasm up (well under the parent's
  // backstop of 64 MiB more: a bomb that got past the cap is stopped only there, and fails this).
  const MiB = 1024 * 1024
  let trivial: Promise<number> | undefined
  const trivialPeak = () =>
    (trivial ??= burnPeak(['run', normal, ...Q, '--input', '{"a":1,"b":2}'], {cacheDir}).then((r) => {
      assert.equal(r.code, 0, r.stderr)
      return r.peakRss
    }))
  for (const [name, key] of bombs) {
    it(`${name}: exit 6 memory, the peak memory under the limit, and burn exits normally`, async () => {
      const r = await burnPeak(['run', script(key), ...Q, '--memory', '64MiB', '--timeout', '20s'], {cacheDir})
      exitedCleanly(r)
      assert.equal(r.code, 6, r.stderr)
      assert.equal(r.stderr, 'Error: memory limit exceeded: the script used more than --memory 64MiB\n')
      const bound = (await trivialPeak()) + 64 * MiB + 32 * MiB
      const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`
      assert.ok(r.peakRss >= 16 * MiB, `peak ${mib(r.peakRss)}: the process that ran the script was not measured`)
      assert.ok(r.peakRss < bound, `peak resident size ${mib(r.peakRss)}, over the bound ${mib(bound)}`)
      await normalRunStillWorks()
    })
  }

  it("plain string doubling hits QuickJS's string length cap first: a clean exit 5", async () => {
    // Strings are ropes, so doubling costs no memory until QuickJS's 2^30 length limit.
    const r = await run(script('bombDoubling'), ['--memory', '64MiB'])
    exitedCleanly(r)
    assert.equal(r.code, 5)
    assert.match(r.stderr, /^Error: InternalError: string too long\n/)
    await normalRunStillWorks()
  })
})

describe('quickjs: time, stack, output and log limits', () => {
  for (const [name, key] of [
    ['while (true) {}', 'spin'],
    ['a promise-callback loop', 'promiseLoop'],
  ] as const) {
    it(`${name} ends with exit 6 timeout within a margin`, async () => {
      const hash = script(key)
      const t0 = Date.now()
      const r = await run(hash, ['--timeout', '1s'])
      const ms = Date.now() - t0
      exitedCleanly(r)
      assert.equal(r.code, 6)
      assert.equal(r.stderr, 'Error: timeout: the script ran longer than --timeout 1s\n')
      // (the margin holds two process starts on a loaded machine; a loop never stopped would take the test's whole timeout)
      assert.ok(ms >= 1000 && ms < 8000, `took ${ms} ms`)
      await normalRunStillWorks()
    })
  }

  it('a promise nothing can settle ends at once as a timeout', async () => {
    const t0 = Date.now()
    const r = await run(script('never'), ['--timeout', '10s'])
    assert.equal(r.code, 6)
    assert.match(r.stderr, /^Error: timeout: the script's promise can never settle/)
    assert.ok(Date.now() - t0 < 5000)
  })

  it('deep recursion is a clean stack overflow, from the script or from input nesting', async () => {
    const r = await run(script('recurse'))
    exitedCleanly(r)
    assert.equal(r.code, 5)
    assert.match(r.stderr, /^Error: InternalError: stack overflow\n {4}at f \(script-/)
    // JSON.parse inside the sandbox overflows Node's native stack before QuickJS's own check.
    const deep = await run(normal, [], '['.repeat(100_000) + ']'.repeat(100_000))
    exitedCleanly(deep)
    assert.equal(deep.code, 5)
    assert.equal(deep.stderr, 'Error: InternalError: stack overflow\n')
    const src = burn(['register', writeScript(dir, 'deep-source.js', 'module.exports = ' + '['.repeat(100_000)), ...Q], {cacheDir})
    assert.equal(src.code, 4)
    await normalRunStillWorks()
  })

  it('a result over --max-output exits 6', async () => {
    const hash = script('big')
    const over = await run(hash, ['--max-output', '1KiB'], '2000')
    assert.equal(over.code, 6)
    assert.equal(over.stderr, 'Error: result is at least 2002 bytes, over --max-output 1024 bytes\n')
    const multibyte = await run(script('bigUtf8'), ['--max-output', '1KiB'])
    assert.equal(multibyte.code, 6)
    assert.equal(multibyte.stderr, 'Error: result is 1202 bytes, over --max-output 1024 bytes\n')
    const fits = await run(hash, ['--max-output', '1KiB'], '1000')
    assert.equal(fits.code, 0)
    await normalRunStillWorks()
  })

  it('limits hold while the result is serialized: fuel, max-log, and a throwing toJSON', async () => {
    const spin = await run(script('spinInToJSON'), ['--fuel', '1000'])
    assert.deepEqual([spin.code, spin.stdout, spin.stderr], [6, '', 'Error: fuel exhausted: the script used more than --fuel 1000\n'])
    const flood = await run(script('floodInToJSON'), ['--max-log', '64KiB'])
    assert.equal(flood.code, 6)
    assert.match(flood.stderr, /Error: console output exceeded --max-log 65536 bytes\n$/)
    const thrown = await run(script('throwInToJSON'))
    assert.equal(thrown.code, 5)
    assert.match(thrown.stderr, /^Error: RangeError: no json for you\n {4}at toJSON \(script-[0-9a-f]{12}\.js:1:\d+\)/)
    // BigInt.prototype.toJSON cannot be defined at all in the sandbox (assigning it is ignored)
    const big = await run(script('defineBigIntToJSON'))
    assert.equal(big.code, 5)
    assert.match(big.stderr, /^Error: TypeError: /)
    await normalRunStillWorks()
  })

  it('a console flood exits 6 max-log, even if the script catches the error', async () => {
    const flood = await run(script('flood'), ['--max-log', '64KiB'])
    assert.equal(flood.code, 6)
    assert.match(flood.stderr, /^flood \{"n":1\}\n/)
    assert.match(flood.stderr, /Error: console output exceeded --max-log 65536 bytes\n$/)
    assert.ok(flood.stderr.length < 70_000)
    const caught = await run(script('floodCaught'), ['--max-log', '64KiB'])
    assert.equal(caught.code, 6)
    assert.equal(caught.stdout, '')
    assert.equal(caught.stderr, 'Error: console output exceeded --max-log 65536 bytes\n')
    await normalRunStillWorks()
  })
})
