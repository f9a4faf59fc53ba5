// burn run on a hit of a script whose module body is heavy, vs plain node running the file: the
// run daemon's runner runs the body ahead of the call (src/engines/warm.ts), so a hit only calls
// the export. Two scripts: one whose body builds prime tables (several hundred ms), and
// typescript.js (9 MB) wrapped to transpile a snippet (as bench/run.mjs). The interleaved rows
// give the body the time between two calls (the node run in between); "back to back" has the
// next call come as soon as the previous one returned, so it waits for part of the body.
// Reproduce: npm run build && node bench/warm.mjs [--n 9]
import {readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {BIN, compare, median, run, table, tempDir} from './lib.mjs'

const n = Number(process.argv[process.argv.indexOf('--n') + 1]) || 9
const dir = tempDir('burn-bench-warm-')
const env = {...process.env, BURN_CACHE_DIR: join(dir, 'cache')}
// (limits that are not what is measured: a loaded machine must not time the body out)
const burn = (...args) => run(process.execPath, [BIN, ...args, ...(args[0] === 'run' ? ['--timeout', '60s'] : [])], {env})
const directEnv = {...env, BURN_DAEMON: 'off'}
const direct = (...args) => run(process.execPath, [BIN, ...args, '--timeout', '60s'], {env: directEnv})

// (primes below 2^24: the issue's case is a body of >= 300 ms; below 2^23 took ~255 ms in node on
// a quiet 2-core machine, which put the goal below node's own start)
const heavySource = `// a module body that builds its tables: primes below 2^24 and a prefix count of them
const N = 1 << 24
const composite = new Uint8Array(N)
for (let i = 2; i * i < N; i++) if (!composite[i]) for (let j = i * i; j < N; j += i) composite[j] = 1
const below = new Uint32Array(N)
let count = 0
for (let i = 2; i < N; i++) { if (!composite[i]) count++; below[i] = count }
let h = 0
for (let r = 0; r < 4; r++) for (let i = 0; i < N; i += 7) h = (h * 31 + below[i]) | 0
module.exports = (x) => ({primesBelow: below[Math.min(x.n, N - 1)], h})
`
const require = createRequire(import.meta.url)
const tsSource =
  readFileSync(require.resolve('typescript/lib/typescript.js'), 'utf8') +
  `
;const __ts = module.exports;
module.exports = (input) => __ts.transpileModule(input.code, {compilerOptions: {target: 99, module: 1}}).outputText;
`

/** The script registered, and a driver that requires it in plain node. */
function prepare(name, source) {
  writeFileSync(join(dir, `${name}.js`), source)
  writeFileSync(join(dir, `${name}.cjs`), source)
  writeFileSync(
    join(dir, `${name}-driver.cjs`),
    `const f = require('./${name}.cjs'); process.stdout.write(JSON.stringify(f(JSON.parse(process.argv[2]))) + '\\n')\n`,
  )
  burn('register', join(dir, `${name}.js`), '--name', name)
}

function measure(name, input) {
  const node = () => run(process.execPath, [join(dir, `${name}-driver.cjs`), input])
  const a = burn('run', name, '--input', input).stdout
  const b = node().stdout
  if (a !== b) throw new Error(`outputs differ:\n${a}\n${b}`)
  const t = compare(
    {
      node,
      'burn run (hit)': () => burn('run', name, '--input', input),
      direct: () => direct('run', name, '--input', input),
    },
    n,
  )
  const backToBack = []
  for (let i = 0; i < n; i++) backToBack.push(burn('run', name, '--input', input).ms)
  return {...t, backToBack: median(backToBack)}
}

prepare('heavy', heavySource)
prepare('ts', tsSource)
const bodyMs = (name) => {
  const xs = []
  for (let i = 0; i < 3; i++) {
    const r = run(process.execPath, [
      '-e',
      `const t = performance.now(); require(${JSON.stringify(join(dir, `${name}.cjs`))}); console.log(performance.now() - t)`,
    ])
    xs.push(Number(r.stdout))
  }
  return median(xs)
}
const heavyBody = bodyMs('heavy')
if (heavyBody < 300) console.log(`note: the heavy module body took ${heavyBody.toFixed(0)} ms, under the 300 ms the goal is set for`)
const tsBody = bodyMs('ts')
const heavy = measure('heavy', '{"n":1000000}')
const ts = measure('ts', JSON.stringify({code: 'const x: number = 1; export default x'}))

const rows = (label, t, body, goal) => [
  [
    `${label} (module body ${body.toFixed(0)} ms in node)`,
    t.node.toFixed(1),
    t['burn run (hit)'].toFixed(1),
    `${(t['burn run (hit)'] / t.node).toFixed(2)} (${goal})`,
  ],
  ['  back to back', '', t.backToBack.toFixed(1), (t.backToBack / t.node).toFixed(2)],
  ['  direct (BURN_DAEMON=off)', '', t.direct.toFixed(1), (t.direct / t.node).toFixed(2)],
]
console.log(`burn run with the module body run ahead (median of ${n}, interleaved), node ${process.version}\n`)
console.log(
  table([
    ['case', 'node ms', 'burn ms', 'ratio (goal)'],
    ...rows('heavy-init script, hit vs node', heavy, heavyBody, '<= 0.35'),
    ...rows('typescript.js 9 MB, hit vs node', ts, tsBody, '<= 0.35'),
  ]),
)
console.log('\nreproduce: npm run build && node bench/warm.mjs')
burn('daemon', 'stop')
