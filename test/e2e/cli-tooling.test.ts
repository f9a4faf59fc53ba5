import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {BIN, burn, ROOT, tmp} from '../helpers.js'

// oclif's own tooling: @oclif/plugin-not-found (src/oclif/not-found.ts), @oclif/plugin-autocomplete
// (src/oclif/autocomplete-dir.ts) and the `oclif` package's readme command (docs/commands.md).

// oclif wraps error lines at OCLIF_COLUMNS, else at 80 off a terminal
const plain = {OCLIF_COLUMNS: undefined}

describe('an unknown command', () => {
  it('is a usage error (exit 2) that names the nearest command, off a terminal', () => {
    const cacheDir = join(tmp(), 'cache')
    const r = burn(['regster'], {cacheDir, env: plain})
    assert.deepEqual(
      {code: r.code, stdout: r.stdout, stderr: r.stderr},
      {
        code: 2,
        stdout: '',
        stderr:
          ' ›   Warning: regster is not a burn command.\n ›   Error: Did you mean register? Run burn help for the list of commands.\n',
      },
    )
    assert.equal(existsSync(cacheDir), false, 'no store is made')
  })

  it("`burn help`, which that message points to, is a command (@oclif/plugin-help): every command, and one command's usage", () => {
    const all = burn(['help'], {cacheDir: tmp(), env: {...plain, COLUMNS: '200'}})
    assert.equal(all.code, 0, all.stderr)
    for (const id of ['batch', 'forget', 'gc', 'help', 'list', 'pull', 'push', 'register', 'run', 'show', 'stats', 'verify'])
      assert.match(all.stdout, new RegExp(`^  ${id} +\\S`, 'm'), id)
    const one = burn(['help', 'daemon', 'stop'], {cacheDir: tmp(), env: plain})
    assert.equal(one.code, 0, one.stderr)
    assert.equal(one.stdout, burn(['daemon', 'stop', '--help'], {cacheDir: tmp(), env: plain}).stdout)
    assert.match(one.stdout, /^USAGE\n {2}\$ burn daemon stop/m)
  })

  it('in a topic points at the help of that topic', () => {
    const r = burn(['daemon', 'stat'], {cacheDir: tmp(), env: plain})
    assert.deepEqual(
      {code: r.code, stdout: r.stdout, stderr: r.stderr},
      {
        code: 2,
        stdout: '',
        stderr:
          ' ›   Warning: daemon stat is not a burn command.\n' +
          ' ›   Error: Did you mean daemon status? Run burn help daemon for the list of \n' +
          ' ›   commands.\n',
      },
    )
  })

  // util-linux `script` gives the command a terminal; the plugin's own prompt then asks.
  const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0
  const onTerminal = (args: string[], answer: string, cacheDir: string) => {
    const cmd = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ')
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
      input: answer,
      encoding: 'utf8',
      timeout: 60_000,
      env: {...process.env, BURN_CACHE_DIR: cacheDir, NO_COLOR: '1', FORCE_COLOR: '0'},
    })
    return {code: r.status, out: r.stdout}
  }

  it('on a terminal asks "Did you mean ...?"; no is still exit 2', {skip: !hasScript && 'needs util-linux script'}, () => {
    const r = onTerminal(['regster'], 'n\r', tmp())
    assert.equal(r.code, 2)
    assert.match(r.out, /Did you mean register\?/)
    assert.match(r.out, /Error: Run burn help for a list of available commands\./)
  })

  it('on a terminal runs the suggestion when told yes', {skip: !hasScript && 'needs util-linux script'}, () => {
    const r = onTerminal(['lst'], 'y\r', tmp())
    assert.equal(r.code, 0)
    assert.match(r.out, /no scripts registered; add one with `burn register <file>`\r\n$/)
  })
})

describe('autocomplete', () => {
  it('`burn autocomplete bash` prints the setup and writes completions outside the store', () => {
    const dir = tmp()
    const [cacheDir, dataDir] = [join(dir, 'cache'), join(dir, 'data')]
    const r = burn(['autocomplete', 'bash'], {cacheDir, env: {BURN_DATA_DIR: dataDir}})
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^\nSetup Instructions for BURN CLI Autocomplete ---\n/)
    assert.ok(r.stdout.includes('  printf "$(burn autocomplete script bash)" >> ~/.bashrc; source ~/.bashrc\n'))
    assert.equal(r.stderr, 'Building the autocomplete cache... done\n')
    assert.equal(existsSync(cacheDir), false, 'the store is not touched')
    const fn = readFileSync(join(dataDir, 'autocomplete', 'functions', 'bash', 'burn.bash'), 'utf8')
    assert.match(fn, /^register --json --cache-dir --name --concurrency --max-source --engine --timeout --memory --remote --remote-mode$/m)
    assert.match(fn, /^daemon:status --json --cache-dir$/m)

    const script = burn(['autocomplete', 'script', 'bash'], {cacheDir, env: {BURN_DATA_DIR: dataDir}})
    const setup = join(dataDir, 'autocomplete', 'bash_setup')
    assert.deepEqual(
      {code: script.code, stdout: script.stdout},
      {
        code: 0,
        stdout: `\nBURN_AC_BASH_SETUP_PATH=${setup} && test -f $BURN_AC_BASH_SETUP_PATH && source $BURN_AC_BASH_SETUP_PATH; # burn autocomplete setup\n\n`,
      },
    )
  })

  it('burn run --help still goes through oclif (the fast path steps aside)', () => {
    const r = burn(['run', '--help'], {cacheDir: tmp()})
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^Run a registered script with JSON in and JSON out\.\n\nUSAGE\n {2}\$ burn run SCRIPT /)
  })
})

describe('docs/commands.md', () => {
  it("is what `npm run readme` (oclif's readme command) makes from the built commands", () => {
    const committed = readFileSync(join(ROOT, 'docs', 'commands.md'), 'utf8')
    const fresh = join(tmp(), 'commands.md')
    copyFileSync(join(ROOT, 'docs', 'commands.md'), fresh)
    // the environment and flags of the readme script in package.json
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'oclif', 'bin', 'run.js'), 'readme', '--readme-path', fresh], {
      cwd: ROOT,
      encoding: 'utf8',
      env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', COLUMNS: '120'},
    })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(readFileSync(fresh, 'utf8'), committed, 'docs/commands.md is stale: run `npm run readme`')
  })

  it('names every command as `burn ...` and holds no machine path', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'commands.md'), 'utf8')
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))
    for (const id of [...Object.keys(manifest.commands), 'autocomplete']) {
      assert.ok(doc.includes(`\n## \`burn ${id.replaceAll(':', ' ')}`), `${id} has a section`)
    }
    for (const path of [ROOT, homedir(), '/tmp/']) assert.equal(doc.includes(path), false, `no ${path}`)
  })
})

describe('verify and gc --timings', () => {
  const verifySteps = [
    'checkPermissions',
    'checkSources',
    'checkCompiled',
    'checkEngineRecords',
    'checkResults',
    'readNameFiles',
    'reportDamagedSources',
  ]
  const gcSteps = ['removeOldTmp', 'breakStaleLocks', 'removeDaemonDebris', 'removeSetAside', 'removeForeignAndOrphanCompiled']

  it('report each named step in order with its time, and leave the JSON as it was without the flag', () => {
    const dir = tmp()
    const cacheDir = join(dir, 'cache')
    writeFileSync(join(dir, 'a.js'), 'module.exports = (x) => x\n')
    assert.equal(burn(['register', join(dir, 'a.js')], {cacheDir}).code, 0)
    const plainJson = JSON.parse(burn(['verify', '--json'], {cacheDir}).stdout)
    assert.equal('steps' in plainJson, false)
    const v = JSON.parse(burn(['verify', '--fix', '--timings', '--json'], {cacheDir}).stdout)
    const names = v.steps.map((s: {step: string}) => s.step)
    assert.deepEqual(names.slice(0, verifySteps.length), verifySteps)
    assert.deepEqual(names.slice(-3), ['checkStats', 'judgeStoreJson', 'repairFound'])
    assert.ok(v.steps.every((s: {ms: number}) => typeof s.ms === 'number' && s.ms >= 0))
    assert.equal('steps' in JSON.parse(burn(['gc', '--json'], {cacheDir}).stdout), false)
    const g = JSON.parse(burn(['gc', '--timings', '--json'], {cacheDir}).stdout)
    assert.deepEqual(
      g.steps.map((s: {step: string}) => s.step),
      [...gcSteps, 'removeOrphanRecords', 'readNameFiles', 'evictScripts', 'removeDanglingNames', 'foldStats'],
    )
    const human = burn(['gc', '--timings'], {cacheDir})
    assert.equal(human.code, 0)
    for (const s of gcSteps) assert.match(human.stdout, new RegExp(`│ ${s} +│ \\d+\\.\\d +│`))
  })
})

describe('the code caches of the memo, run client and oclif bundles (bin/cached-require.js)', () => {
  const require = createRequire(import.meta.url)
  const {cachedRequire, cachePath, cacheFile} = require(join(ROOT, 'bin', 'cached-require.js'))

  it('npm run build leaves one beside dist/fast/fast-memo.cjs that V8 accepts', () => {
    const {script, exports} = cachedRequire(join(ROOT, 'dist', 'fast', 'fast-memo.cjs'))
    assert.equal(script.cachedDataRejected, false)
    assert.equal(typeof exports.fastMemo, 'function')
  })

  it('and one beside dist/fast/fast-run.cjs, the run client', () => {
    const {script, exports} = cachedRequire(join(ROOT, 'dist', 'fast', 'fast-run.cjs'))
    assert.equal(script.cachedDataRejected, false)
    assert.equal(typeof exports.fastRun, 'function')
  })

  it("and one beside dist/fast/oclif.cjs, whose instance is the one oclif's own require() of its command target gets", () => {
    const file = join(ROOT, 'dist', 'fast', 'oclif.cjs')
    const {script, exports} = cachedRequire(file)
    assert.equal(script.cachedDataRejected, false)
    assert.equal(typeof exports.execute, 'function')
    assert.equal(require(file), exports, 'the bundle is not loaded a second time')
    assert.equal(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).oclif.commands.target, './dist/fast/oclif.cjs')
  })

  it('a cache made for other bytes of the same length is not used: the file compiles as it is now', () => {
    const file = join(tmp(), 'm.cjs')
    writeFileSync(file, 'module.exports = {v: 1}\n')
    const first = cachedRequire(file)
    assert.deepEqual(first.exports, {v: 1})
    writeFileSync(cachePath(file), cacheFile(first.source, first.script.createCachedData()))
    assert.equal(cachedRequire(file).script.cachedDataRejected, false, 'the cache of these bytes is used')
    // V8's own check compares the source's length only: without the byte compare it ran v: 1 here
    writeFileSync(file, 'module.exports = {v: 2}\n')
    const second = cachedRequire(file)
    assert.deepEqual(second.exports, {v: 2})
    assert.equal(second.script.cachedDataRejected, undefined, 'no cache was offered to V8')
  })
})
