// Limits and engines, side by side: per-call cost of `burn run` with explicit tight limits vs the
// defaults (limits always hold in burn: the defaults are limits too), on both engines; and a
// 100k-row map in one call, plain node vs burn v8 vs burn quickjs.
// Reproduce: npm run build && node bench/limits.mjs [--n 10]
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, compare, run, table, tempDir} from './lib.mjs'

const n = Number(process.argv[process.argv.indexOf('--n') + 1]) || 10
const dir = tempDir('burn-bench-limits-')
const env = {...process.env, BURN_CACHE_DIR: join(dir, 'cache')}
const burn = (...args) => run(process.execPath, [BIN, ...args], {env})
const tight = ['--timeout', '2s', '--memory', '64MiB', '--max-output', '1MiB', '--max-log', '64KiB']

writeFileSync(join(dir, 'tiny.js'), 'module.exports = (x) => ({y: x.x * 2})\n')
burn('register', join(dir, 'tiny.js'), '--name', 'tiny')
burn('register', join(dir, 'tiny.js'), '--engine', 'quickjs')
const calls = compare(
  {
    'v8 defaults': () => burn('run', 'tiny', '--input', '{"x":1}'),
    'v8 tight': () => burn('run', 'tiny', '--input', '{"x":1}', ...tight),
    'quickjs defaults': () => burn('run', 'tiny', '--engine', 'quickjs', '--input', '{"x":1}'),
    'quickjs tight': () => burn('run', 'tiny', '--engine', 'quickjs', '--input', '{"x":1}', ...tight, '--fuel', '100000'),
  },
  n,
)

const rows = Array.from({length: 100_000}, (_, i) => ({id: i, name: `user${i}`, x: i % 97, tags: ['a', 'b'], active: i % 2 === 0}))
writeFileSync(join(dir, 'rows.json'), JSON.stringify(rows))
writeFileSync(join(dir, 'map.js'), 'module.exports = (rows) => rows.map((r) => ({...r, y: r.x * 2}))\n')
writeFileSync(
  join(dir, 'plain.cjs'),
  `const fs = require('fs'); const f = (rows) => rows.map((r) => ({...r, y: r.x * 2}))
process.stdout.write(JSON.stringify(f(JSON.parse(fs.readFileSync(process.argv[2], 'utf8')))) + '\\n')\n`,
)
burn('register', join(dir, 'map.js'), '--name', 'map')
burn('register', join(dir, 'map.js'), '--engine', 'quickjs')
const big = ['--input-file', join(dir, 'rows.json'), '--max-output', '64MiB', '--timeout', '60s', '--memory', '2GiB']
const a = run(process.execPath, [join(dir, 'plain.cjs'), join(dir, 'rows.json')]).stdout
for (const e of ['v8', 'quickjs'])
  if (burn('run', 'map', '--engine', e, ...big).stdout !== a) throw new Error(`${e} output differs from plain node`)
const map = compare(
  {
    'plain node': () => run(process.execPath, [join(dir, 'plain.cjs'), join(dir, 'rows.json')]),
    'burn v8': () => burn('run', 'map', ...big),
    'burn quickjs': () => burn('run', 'map', '--engine', 'quickjs', ...big),
  },
  Math.max(3, Math.floor(n / 2)),
)

console.log(`limits and engines (medians, interleaved), node ${process.version}\n`)
console.log(
  table([
    ['case', 'ms', 'ratio (goal)'],
    ['v8 run, default limits', calls['v8 defaults'].toFixed(1), '1.00'],
    ['v8 run, tight limits', calls['v8 tight'].toFixed(1), `${(calls['v8 tight'] / calls['v8 defaults']).toFixed(2)} (<= 1.2)`],
    ['quickjs run, default limits', calls['quickjs defaults'].toFixed(1), '1.00'],
    [
      'quickjs run, tight limits + fuel',
      calls['quickjs tight'].toFixed(1),
      `${(calls['quickjs tight'] / calls['quickjs defaults']).toFixed(2)}`,
    ],
    ['100k-row map: plain node', map['plain node'].toFixed(1), '1.00'],
    ['100k-row map: burn v8', map['burn v8'].toFixed(1), `${(map['burn v8'] / map['plain node']).toFixed(2)}`],
    ['100k-row map: burn quickjs', map['burn quickjs'].toFixed(1), `${(map['burn quickjs'] / map['plain node']).toFixed(2)} (<= 3.0)`],
  ]),
)
console.log('\nreproduce: npm run build && node bench/limits.mjs')
burn('daemon', 'stop')
