import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {daemonUp} from '../fixtures/daemon.js'
import {burn, json, tmp, writeScript, type Result} from '../helpers.js'

/*
 * Trust is decided at register time (issue 11, finding 2): the engines a script was registered
 * for are stored with it, and a script registered only for the quickjs sandbox never runs on v8
 * (node:vm, where `this.constructor.constructor('return process')()` reaches the host) unless it
 * is registered again with --engine v8. Every path: a direct run, the run daemon, batch.
 */

// Reports whether the host's `process` is reachable from the script: "host" on v8, "sandbox" on quickjs.
const PROBE = `const probe = (() => {
  try {
    const p = this.constructor.constructor('return process')()
    return p !== null && typeof p === 'object' && typeof p.pid === 'number' ? 'host' : 'sandbox'
  } catch {
    return 'sandbox'
  }
})()
`
const RUN_SOURCE = `${PROBE}module.exports = () => probe\n`
const BATCH_SOURCE = `${PROBE}module.exports = (rows) => rows.map((r) => ({r, probe}))\n`

const direct = {BURN_DAEMON: 'off'}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const refused = (ref: string, hash: string) =>
  `script ${ref === hash ? hash : `${ref} (${hash})`} is registered for the quickjs sandbox only, so it does not run on v8; if you trust its code, register it again with --engine v8 (\`burn register <file> --engine v8\`), or run it without --engine`

function reg(cacheDir: string, file: string, extra: string[] = []): {hash: string; engine: string; engines: string[]; status: string} {
  const r = burn(['register', file, '--json', ...extra], {cacheDir})
  assert.equal(r.code, 0, r.stderr + r.stdout)
  return json(r).results[0]
}

const run = (cacheDir: string, args: string[], env: Record<string, string> = direct) => burn(['run', ...args], {cacheDir, env})
const outcome = (r: Result) => [r.code, r.stdout, r.stderr]
const enginesRecord = (cache: string, hash: string) => join(cache, 'engines', hash.slice(0, 2), hash)

describe('trust is decided at register time', () => {
  it('a script registered for quickjs runs on quickjs without --engine, and refuses --engine v8 (exit 2)', () => {
    const cache = tmp()
    const u = reg(cache, writeScript(tmp(), 'u.js', RUN_SOURCE), ['--engine', 'quickjs', '--name', 'u'])
    assert.deepEqual(outcome(run(cache, ['u'])), [0, '"sandbox"\n', ''])
    assert.deepEqual(outcome(run(cache, [u.hash])), [0, '"sandbox"\n', ''])
    assert.deepEqual(outcome(run(cache, ['u', '--engine', 'v8'])), [2, '', `Error: ${refused('u', u.hash)}\n`])
    assert.deepEqual(outcome(run(cache, [u.hash.slice(0, 10), '-e', 'v8'])), [2, '', `Error: ${refused(u.hash.slice(0, 10), u.hash)}\n`])
    const j = run(cache, ['u', '--engine', 'v8', '--json'])
    assert.equal(j.code, 2)
    assert.deepEqual(json(j), {error: {code: 2, kind: 'usage', message: refused('u', u.hash), hash: u.hash, engines: ['quickjs']}})
    // --fuel needs no --engine on a quickjs script: the limits follow the registered engine
    assert.deepEqual(outcome(run(cache, ['u', '--fuel', '1000'])), [0, '"sandbox"\n', ''])
    assert.deepEqual([u.engine, u.engines], ['quickjs', ['quickjs']])
    assert.deepEqual(JSON.parse(readFileSync(enginesRecord(cache, u.hash), 'utf8')), ['quickjs'])
  })

  it('the run daemon gives the same: the sandbox without --engine, exit 2 for --engine v8', async () => {
    const cache = tmp()
    const u = reg(cache, writeScript(tmp(), 'u.js', RUN_SOURCE), ['--engine', 'quickjs', '--name', 'u'])
    run(cache, ['u'], {})
    await daemonUp(cache)
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(outcome(run(cache, ['u'], {})), [0, '"sandbox"\n', ''], `call ${i}`)
      await sleep(150)
    }
    for (let i = 0; i < 2; i++)
      assert.deepEqual(outcome(run(cache, ['u', '--engine', 'v8'], {})), [2, '', `Error: ${refused('u', u.hash)}\n`])
  })

  it('a runner the daemon made ready for a v8 script never runs a quickjs-only script on v8', async () => {
    const cache = tmp()
    const dir = tmp()
    // `n` is first a trusted script (v8): the daemon learns "n -> v8" and preloads it ...
    reg(cache, writeScript(dir, 'trusted.js', `${RUN_SOURCE}// trusted\n`), ['--name', 'n'])
    run(cache, ['n'], {})
    await daemonUp(cache)
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(outcome(run(cache, ['n'], {})), [0, '"host"\n', ''])
      await sleep(150)
    }
    // ... then names a script registered for quickjs only: the next call finds that runner
    const u = reg(cache, writeScript(dir, 'u.js', RUN_SOURCE), ['--engine', 'quickjs', '--name', 'n'])
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(outcome(run(cache, ['n'], {})), [0, '"sandbox"\n', ''], `call ${i}`)
      await sleep(150)
    }
    assert.deepEqual(outcome(run(cache, ['n', '--engine', 'v8'], {})), [2, '', `Error: ${refused('n', u.hash)}\n`])
  })

  it('batch: the registered engine without --engine, exit 2 for --engine v8', () => {
    const cache = tmp()
    const b = reg(cache, writeScript(tmp(), 'b.js', BATCH_SOURCE), ['--engine', 'quickjs', '--name', 'b'])
    const batch = (args: string[]) => burn(['batch', 'b', ...args], {cacheDir: cache, input: '1\n2\n'})
    assert.deepEqual(outcome(batch([])), [0, '{"r":1,"probe":"sandbox"}\n{"r":2,"probe":"sandbox"}\n', ''])
    assert.deepEqual(outcome(batch(['--engine', 'v8'])), [2, '', `Error: ${refused('b', b.hash)}\n`])
    const j = batch(['--engine', 'v8', '--json'])
    assert.equal(j.code, 2)
    assert.equal(j.stdout, '')
    assert.deepEqual(JSON.parse(j.stderr).error, {
      code: 2,
      kind: 'usage',
      message: refused('b', b.hash),
      hash: b.hash,
      engines: ['quickjs'],
    })
    // the summary names the engine the rows ran on
    const s = batch(['--json'])
    assert.equal(JSON.parse(s.stderr).engine, 'quickjs')
    // registered for v8 too: the sandbox still wins without --engine; --engine v8 is now allowed
    reg(cache, writeScript(tmp(), 'b.js', BATCH_SOURCE), ['--engine', 'v8'])
    assert.deepEqual(outcome(batch([])), [0, '{"r":1,"probe":"sandbox"}\n{"r":2,"probe":"sandbox"}\n', ''])
    assert.deepEqual(outcome(batch(['--engine', 'v8'])), [0, '{"r":1,"probe":"host"}\n{"r":2,"probe":"host"}\n', ''])
  })

  it('registering again with --engine v8 is the trust decision: the sandbox still wins without --engine', async () => {
    const cache = tmp()
    const file = writeScript(tmp(), 'u.js', RUN_SOURCE)
    reg(cache, file, ['--engine', 'quickjs', '--name', 'u'])
    const again = reg(cache, file, ['--engine', 'v8'])
    assert.deepEqual(outcome(run(cache, ['u'])), [0, '"sandbox"\n', ''])
    assert.deepEqual(outcome(run(cache, ['u', '--engine', 'v8'])), [0, '"host"\n', ''])
    assert.deepEqual([again.engine, again.status, again.engines], ['v8', 'compiled', ['v8', 'quickjs']])
    assert.deepEqual(JSON.parse(readFileSync(enginesRecord(cache, again.hash), 'utf8')), ['v8', 'quickjs'])
    // and through the daemon
    run(cache, ['u'], {})
    await daemonUp(cache)
    for (const args of [['u', '--engine', 'v8'], ['u'], ['u', '--engine', 'v8'], ['u'], ['u']]) {
      assert.deepEqual(outcome(run(cache, args, {})), [0, args.length > 1 ? '"host"\n' : '"sandbox"\n', ''], args.join(' '))
      await sleep(150)
    }
    // registering again (either way) never takes an engine away
    assert.deepEqual(reg(cache, file, ['--engine', 'quickjs']).engines, ['v8', 'quickjs'])
    assert.deepEqual(reg(cache, file).engines, ['v8', 'quickjs'])
  })

  it('a plain register keeps a quickjs-only script quickjs-only (a hit); a new script is v8', () => {
    const cache = tmp()
    const dir = tmp()
    const file = writeScript(dir, 'u.js', RUN_SOURCE)
    reg(cache, file, ['--engine', 'quickjs', '--name', 'u'])
    const plain = reg(cache, file)
    assert.deepEqual(outcome(run(cache, ['u'])), [0, '"sandbox"\n', ''])
    assert.deepEqual(outcome(run(cache, ['u', '--engine', 'v8'])), [2, '', `Error: ${refused('u', plain.hash)}\n`])
    assert.deepEqual([plain.engine, plain.status, plain.engines], ['quickjs', 'hit', ['quickjs']])
    const fresh = reg(cache, writeScript(dir, 't.js', `${RUN_SOURCE}// new\n`), ['--name', 't'])
    assert.deepEqual([fresh.engine, fresh.status, fresh.engines], ['v8', 'compiled', ['v8']])
    assert.deepEqual(outcome(run(cache, ['t'])), [0, '"host"\n', ''])
  })

  it('--engine quickjs runs a v8 script in the sandbox and changes no trust', () => {
    const cache = tmp()
    const t = reg(cache, writeScript(tmp(), 't.js', RUN_SOURCE), ['--name', 't'])
    assert.deepEqual(outcome(run(cache, ['t', '--engine', 'quickjs'])), [0, '"sandbox"\n', ''])
    assert.deepEqual(JSON.parse(readFileSync(enginesRecord(cache, t.hash), 'utf8')), ['v8'])
    assert.deepEqual(outcome(run(cache, ['t'])), [0, '"host"\n', ''])
  })

  it('show and list report the registered engines (--json: engines, and compiled for the forms)', () => {
    const cache = tmp()
    const dir = tmp()
    const u = reg(cache, writeScript(dir, 'u.js', RUN_SOURCE), ['--engine', 'quickjs', '--name', 'u'])
    const t = reg(cache, writeScript(dir, 't.js', `${RUN_SOURCE}// t\n`), ['--name', 't'])
    const byHash = Object.fromEntries(
      json(burn(['list', '--json'], {cacheDir: cache})).scripts.map((s: {hash: string; engines: string[]}) => [s.hash, s.engines]),
    )
    assert.deepEqual(byHash, {[u.hash]: ['quickjs'], [t.hash]: ['v8']})
    const s = json(burn(['show', 'u', '--json'], {cacheDir: cache}))
    assert.deepEqual([s.engines, s.compiled], [['quickjs'], ['quickjs-0.32.0']])
    assert.match(burn(['show', 'u'], {cacheDir: cache}).stdout, /\nengines: {4}quickjs\ncompiled: {3}quickjs-0\.32\.0\n/)
    assert.match(burn(['list'], {cacheDir: cache}).stdout, new RegExp(`│ ${u.hash.slice(0, 12)} │ u {5}│ \\d+ B │ quickjs │`))
  })

  it('forget removes the record; gc removes an orphan record, verify reports it as debris', () => {
    const cache = tmp()
    const u = reg(cache, writeScript(tmp(), 'u.js', RUN_SOURCE), ['--engine', 'quickjs', '--name', 'u'])
    assert.equal(burn(['forget', 'u'], {cacheDir: cache}).code, 0)
    assert.equal(existsSync(enginesRecord(cache, u.hash)), false)

    const orphan = 'ab'.repeat(32)
    const plant = () => {
      mkdirSync(join(cache, 'engines', 'ab'), {recursive: true, mode: 0o700})
      writeFileSync(join(cache, 'engines', 'ab', orphan), '["v8"]\n', {mode: 0o600})
    }
    plant()
    const v = burn(['verify', '--json'], {cacheDir: cache})
    assert.equal(v.code, 0, 'debris does not fail verify')
    assert.deepEqual(
      json(v).problems.map((p: {kind: string; severity: string; path: string}) => [p.kind, p.severity, p.path]),
      [['orphan-engines', 'debris', `engines/ab/${orphan}`]],
    )
    const g = json(burn(['gc', '--json'], {cacheDir: cache}))
    assert.deepEqual(
      g.actions.map((a: {kind: string; path: string; done: boolean}) => [a.kind, a.path, a.done]),
      [['orphan', `engines/ab/${orphan}`, true]],
    )
    assert.equal(existsSync(join(cache, 'engines', 'ab', orphan)), false)
    plant()
    assert.equal(burn(['verify', '--fix'], {cacheDir: cache}).code, 0)
    assert.equal(existsSync(join(cache, 'engines', 'ab', orphan)), false)
  })

  it('gc eviction removes the record with its script', () => {
    const cache = tmp()
    const u = reg(cache, writeScript(tmp(), 'u.js', RUN_SOURCE), ['--engine', 'quickjs', '--name', 'u'])
    const g = json(burn(['gc', '--max-size', '1B', '--json'], {cacheDir: cache}))
    assert.deepEqual(
      g.actions.filter((a: {kind: string}) => a.kind === 'evict-size').map((a: {hash: string; done: boolean}) => [a.hash, a.done]),
      [[u.hash, true]],
    )
    assert.equal(existsSync(enginesRecord(cache, u.hash)), false)
    assert.deepEqual(readdirSync(join(cache, 'engines', u.hash.slice(0, 2))), [])
  })

  it('verify flags a damaged record (exit 8), a run refuses it (exit 8), and verify --fix repairs it', () => {
    const cache = tmp()
    const u = reg(cache, writeScript(tmp(), 'u.js', RUN_SOURCE), ['--engine', 'quickjs', '--name', 'u'])
    const rel = `engines/${u.hash.slice(0, 2)}/${u.hash}`
    for (const [bad, why] of [
      ['["v8", "node"]\n', 'names no engine burn knows: "node"'],
      ['{"engines":["v8"]}', 'not a non-empty JSON list'],
      ['[]', 'not a non-empty JSON list'],
      ['["v8","v8"]', 'names an engine twice'],
      ['garbage', 'not JSON'],
    ]) {
      writeFileSync(enginesRecord(cache, u.hash), bad)
      const v = burn(['verify', '--json'], {cacheDir: cache})
      assert.equal(v.code, 8, bad)
      assert.deepEqual(
        json(v).problems.map((p: {kind: string; severity: string; path: string; detail: string}) => [p.kind, p.severity, p.path, p.detail]),
        [['engines-bad', 'damage', rel, `not an engines record: ${why}`]],
      )
      assert.deepEqual(outcome(run(cache, ['u'])), [
        8,
        '',
        `Error: the engines record of script ${u.hash} is damaged (${why}); run \`burn verify --fix\`\n`,
      ])
    }
    // The quickjs marker damaged too: nothing is left that could say the script is quickjs only,
    // and the fix must not fall back to v8 (the earlier default) for it.
    const marker = readdirSync(join(cache, 'compiled')).find((t) => t.startsWith('quickjs'))!
    writeFileSync(join(cache, 'compiled', marker, u.hash.slice(0, 2), u.hash), 'damaged')
    const fix = burn(['verify', '--fix', '--json'], {cacheDir: cache})
    assert.equal(fix.code, 0)
    assert.deepEqual(
      json(fix).problems.map((p: {kind: string; fixed: boolean}) => [p.kind, p.fixed]),
      [
        ['compiled-bad', true],
        ['engines-bad', true],
      ],
    )
    assert.equal(readFileSync(enginesRecord(cache, u.hash), 'utf8'), '["quickjs"]\n')
    assert.equal(burn(['verify'], {cacheDir: cache}).code, 0)
    // the fix fails safe: the sandbox only, whatever the record said before it was damaged
    assert.deepEqual(outcome(run(cache, ['u'])), [0, '"sandbox"\n', ''])
    assert.deepEqual(outcome(run(cache, ['u', '--engine', 'v8'])), [2, '', `Error: ${refused('u', u.hash)}\n`])
  })

  it("a store of an earlier burn (no records) follows the documented inference from the script's compiled forms", () => {
    const cache = tmp()
    const dir = tmp()
    const u = reg(cache, writeScript(dir, 'u.js', RUN_SOURCE), ['--engine', 'quickjs', '--name', 'u'])
    const t = reg(cache, writeScript(dir, 't.js', `${RUN_SOURCE}// t\n`), ['--name', 't'])
    const both = reg(cache, writeScript(dir, 'b.js', `${RUN_SOURCE}// b\n`), ['--name', 'b'])
    reg(cache, join(dir, 'b.js'), ['--engine', 'quickjs'])
    rmSync(join(cache, 'engines'), {recursive: true, force: true})
    assert.equal(burn(['verify'], {cacheDir: cache}).code, 0, 'no record is no damage')
    // a quickjs marker and no v8 form: quickjs only
    assert.deepEqual(outcome(run(cache, ['u'])), [0, '"sandbox"\n', ''])
    assert.deepEqual(outcome(run(cache, ['u', '--engine', 'v8'])), [2, '', `Error: ${refused('u', u.hash)}\n`])
    // anything else: v8, the earlier default
    assert.deepEqual(outcome(run(cache, ['t'])), [0, '"host"\n', ''])
    assert.deepEqual(outcome(run(cache, ['b'])), [0, '"host"\n', ''])
    const listed = Object.fromEntries(
      json(burn(['list', '--json'], {cacheDir: cache})).scripts.map((s: {hash: string; engines: string[]}) => [s.hash, s.engines]),
    )
    assert.deepEqual(listed, {[u.hash]: ['quickjs'], [t.hash]: ['v8'], [both.hash]: ['v8']})
    // a plain register of the quickjs-only one keeps it so, and writes its record
    const plain = reg(cache, join(dir, 'u.js'))
    assert.deepEqual([plain.engine, plain.status, plain.engines], ['quickjs', 'hit', ['quickjs']])
    assert.deepEqual(JSON.parse(readFileSync(enginesRecord(cache, u.hash), 'utf8')), ['quickjs'])
  })
})
