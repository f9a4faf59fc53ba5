// burn run on a hit vs plain node, for a tiny script and for a 9 MB one (typescript.js),
// and register throughput. `burn run` goes through the run daemon once the first run has
// started it (the default); the "direct" rows set BURN_DAEMON=off, the path of a first run.
// Reproduce: npm run build && node bench/run.mjs [--n 15]
import {spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {BIN, compare, run, table, tempDir} from './lib.mjs'

const n = Number(process.argv[process.argv.indexOf('--n') + 1]) || 15
const dir = tempDir('burn-bench-run-')
const env = {...process.env, BURN_CACHE_DIR: join(dir, 'cache')}
const burn = (...args) => run(process.execPath, [BIN, ...args], {env})
const directEnv = {...env, BURN_DAEMON: 'off'}
const direct = (...args) => run(process.execPath, [BIN, ...args], {env: directEnv})

// 1. a tiny script; and the same hits with BURN_REMOTE set (issue 16: a local hit never connects nor
// loads the client). It names a port nothing listens on: a hit that asked it would print a warning.
writeFileSync(join(dir, 'tiny.js'), 'module.exports = (x) => ({y: x.x * 2})\n')
burn('register', join(dir, 'tiny.js'), '--name', 'tiny')
const remoteEnv = {...env, BURN_REMOTE: 'redis://127.0.0.1:9'}
const withRemote =
  (e) =>
  (...args) => {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(process.execPath, [BIN, ...args], {env: e, encoding: 'utf8'})
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.status !== 0 || r.stderr) throw new Error(`a hit with BURN_REMOTE set: exit ${r.status}, stderr ${r.stderr}`)
    return {ms, stdout: r.stdout}
  }
const remoteHit = withRemote(remoteEnv)
const remoteDirect = withRemote({...remoteEnv, BURN_DAEMON: 'off'})
const tiny = compare(
  {
    'node -e 0': () => run(process.execPath, ['-e', '0']),
    'burn run tiny (hit)': () => burn('run', 'tiny', '--input', '{"x":1}'),
    direct: () => direct('run', 'tiny', '--input', '{"x":1}'),
    'remote set': () => remoteHit('run', 'tiny', '--input', '{"x":1}'),
    'remote set, direct': () => remoteDirect('run', 'tiny', '--input', '{"x":1}'),
  },
  n,
)

// 1b. a tiny quickjs script through the run daemon, calls back to back (no pause between them,
// as a CI loop makes them): the runner for the next call gets ready while the last one ends.
writeFileSync(join(dir, 'tinyq.js'), 'module.exports = (x) => ({q: x.x * 2})\n')
burn('register', join(dir, 'tinyq.js'), '--name', 'tinyq', '--engine', 'quickjs')
const quick = compare(
  {
    'node -e 0': () => run(process.execPath, ['-e', '0']),
    'burn run tinyq': () => burn('run', 'tinyq', '--input', '{"x":1}'),
    // (a direct run's child compiles QuickJS with a larger wasm tiering budget: wasm-flags.ts)
    direct: () => direct('run', 'tinyq', '--input', '{"x":1}'),
  },
  n,
  {settleMs: 0},
)

// 2. typescript.js (9 MB), wrapped so its export transpiles a snippet
const require = createRequire(import.meta.url)
const tsPath = require.resolve('typescript/lib/typescript.js')
const wrapped =
  readFileSync(tsPath, 'utf8') +
  `
;const __ts = module.exports;
module.exports = (input) => __ts.transpileModule(input.code, {compilerOptions: {target: 99, module: 1}}).outputText;
`
writeFileSync(join(dir, 'ts-wrapped.js'), wrapped)
writeFileSync(join(dir, 'ts-plain.cjs'), wrapped)
writeFileSync(
  join(dir, 'ts-driver.cjs'),
  `const f = require('./ts-plain.cjs'); process.stdout.write(JSON.stringify(f(JSON.parse(process.argv[2]))) + '\\n')\n`,
)
const input = JSON.stringify({code: 'const x: number = 1; export default x'})
// (a generous --timeout: module evaluation of 9 MB at register passes 5 s on a loaded machine)
const reg = burn('register', join(dir, 'ts-wrapped.js'), '--name', 'ts', '--timeout', '60s')
const a = burn('run', 'ts', '--input', input, '--timeout', '60s').stdout
const b = run(process.execPath, [join(dir, 'ts-driver.cjs'), input]).stdout
if (a !== b) throw new Error(`outputs differ:\n${a}\n${b}`)
const ts = compare(
  {
    'node ts-driver.cjs (no cache)': () => run(process.execPath, [join(dir, 'ts-driver.cjs'), input]),
    'burn run ts (hit)': () => burn('run', 'ts', '--input', input, '--timeout', '60s'),
    direct: () => direct('run', 'ts', '--input', input, '--timeout', '60s'),
  },
  n,
)

// 3. register 1,000 small scripts in one call
const many = join(dir, 'many')
run('mkdir', ['-p', many])
for (let i = 0; i < 1000; i++) writeFileSync(join(many, `s${i}.js`), `module.exports = (x) => x + ${i}\n`)
const r1000 = burn('register', join(many, '*.js'), '--json')
const perSec = 1000 / (r1000.ms / 1000)

console.log(`burn run benchmarks (median of ${n}, interleaved), node ${process.version}\n`)
console.log(
  table([
    ['case', 'baseline ms', 'burn ms', 'ratio (goal)'],
    [
      'tiny script, hit vs node -e 0',
      tiny['node -e 0'].toFixed(1),
      tiny['burn run tiny (hit)'].toFixed(1),
      `${(tiny['burn run tiny (hit)'] / tiny['node -e 0']).toFixed(2)} (<= 2.0)`,
    ],
    ['  same, direct (BURN_DAEMON=off)', '', tiny.direct.toFixed(1), (tiny.direct / tiny['node -e 0']).toFixed(2)],
    [
      'tiny hit, BURN_REMOTE set vs unset',
      tiny['burn run tiny (hit)'].toFixed(1),
      tiny['remote set'].toFixed(1),
      `${(tiny['remote set'] / tiny['burn run tiny (hit)']).toFixed(2)} (<= 1.02)`,
    ],
    [
      '  same, direct (BURN_DAEMON=off)',
      tiny.direct.toFixed(1),
      tiny['remote set, direct'].toFixed(1),
      (tiny['remote set, direct'] / tiny.direct).toFixed(2),
    ],
    [
      'tiny quickjs script, back to back, vs node -e 0',
      quick['node -e 0'].toFixed(1),
      quick['burn run tinyq'].toFixed(1),
      (quick['burn run tinyq'] / quick['node -e 0']).toFixed(2),
    ],
    ['  same, direct (BURN_DAEMON=off)', '', quick.direct.toFixed(1), (quick.direct / quick['node -e 0']).toFixed(2)],
    [
      'typescript.js 9 MB, hit vs node no cache',
      ts['node ts-driver.cjs (no cache)'].toFixed(1),
      ts['burn run ts (hit)'].toFixed(1),
      `${(ts['burn run ts (hit)'] / ts['node ts-driver.cjs (no cache)']).toFixed(2)} (<= 0.6)`,
    ],
    ['  same, direct (BURN_DAEMON=off)', '', ts.direct.toFixed(1), (ts.direct / ts['node ts-driver.cjs (no cache)']).toFixed(2)],
  ]),
)
console.log(`\nregister typescript.js (cold, compile + code cache): ${reg.ms.toFixed(0)} ms`)
console.log(`register 1,000 small scripts in one call: ${r1000.ms.toFixed(0)} ms = ${perSec.toFixed(0)} scripts/s`)
console.log('\nreproduce: npm run build && node bench/run.mjs')
burn('daemon', 'stop')
run(process.execPath, [BIN, 'daemon', 'stop'], {env: remoteEnv})
