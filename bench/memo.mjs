// `burn run --memo`: a memo hit (answered by the burn run client, before the run daemon) vs
// `node -e 0` and vs a plain (daemon-served) run of a tiny script; a memo hit of a computation
// of about 1 s vs running it.
// Reproduce: npm run build && node bench/memo.mjs [--n 15]
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, compare, run, table, tempDir} from './lib.mjs'

const n = Number(process.argv[process.argv.indexOf('--n') + 1]) || 15
const dir = tempDir('burn-bench-memo-')
const env = {...process.env, BURN_CACHE_DIR: join(dir, 'cache')}
const burn = (...args) => run(process.execPath, [BIN, ...args], {env})

// 1. a tiny script: a memo hit against node's own start
writeFileSync(join(dir, 'tiny.js'), 'module.exports = (x) => ({y: x.x * 2})\n')
burn('register', join(dir, 'tiny.js'), '--name', 'tiny')
burn('run', 'tiny', '--input', '{"x":1}') // starts the run daemon
burn('run', 'tiny', '--input', '{"x":1}', '--memo') // stores the result
const tiny = compare(
  {
    'node -e 0': () => run(process.execPath, ['-e', '0']),
    'burn run tiny --memo (hit)': () => burn('run', 'tiny', '--input', '{"x":1}', '--memo'),
    'burn run tiny (daemon, no memo)': () => burn('run', 'tiny', '--input', '{"x":1}'),
  },
  n,
)

// 2. about 1 s of computation (a busy loop; the count is calibrated once)
writeFileSync(
  join(dir, 'slow.js'),
  'module.exports = (x) => { let s = 0; for (let i = 0; i < x.n; i++) s = (s + i * i) % 1000003; return {s} }\n',
)
burn('register', join(dir, 'slow.js'), '--name', 'slow')
// (three rounds, each less the cost of a daemon call of a tiny script: the first call of a new
// script also starts its runner, and one round calibrated to ~0.6 s)
const overhead = tiny['burn run tiny (daemon, no memo)']
let count = 1e7
for (let round = 0; round < 3; round++) {
  const once = burn('run', 'slow', '--input', JSON.stringify({n: count}), '--timeout', '60s')
  count = Math.round((count * 1000) / Math.max(once.ms - overhead, 50))
}
const input = JSON.stringify({n: count})
burn('run', 'slow', '--input', input, '--memo', '--timeout', '60s')
const slow = compare(
  {
    'burn run slow (runs it)': () => burn('run', 'slow', '--input', input, '--timeout', '60s'),
    'burn run slow --memo (hit)': () => burn('run', 'slow', '--input', input, '--memo', '--timeout', '60s'),
  },
  Math.max(3, Math.round(n / 3)),
)

const fmt = (ms) => `${ms.toFixed(1)} ms`
console.log(
  table([
    ['command', 'median'],
    ...Object.entries(tiny).map(([k, v]) => [k, fmt(v)]),
    ...Object.entries(slow).map(([k, v]) => [k, fmt(v)]),
  ]),
)
console.log(`memo hit / node -e 0: ${(tiny['burn run tiny --memo (hit)'] / tiny['node -e 0']).toFixed(2)}x (goal <= 1.2x)`)
console.log(
  `memo hit / running a ~1 s computation: ${(slow['burn run slow --memo (hit)'] / slow['burn run slow (runs it)']).toFixed(3)}x (goal <= 0.15x)`,
)
burn('daemon', 'stop')
