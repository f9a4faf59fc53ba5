// `burn batch --memo`: a full batch over 1M NDJSON rows (the rows of bench/batch.mjs, mapped by
// r => ({id: r.id, y: r.x * 2})) side by side with a --memo re-run over the same file with 1% of
// its rows changed (different rows each run, so every re-run has 10,000 rows to compute).
// Outputs go to files (no relay through this process) and must be the same bytes. --work N gives
// each row N iterations of a busy loop, for a script whose rows cost something to compute.
// Reproduce: npm run build && node bench/batch-memo.mjs [--rows 1000000] [--n 3] [--changed 0.01] [--work 0]
import {spawnSync} from 'node:child_process'
import {closeSync, openSync, readFileSync, writeFileSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {BIN, median, ROOT, table, tempDir} from './lib.mjs'

const {values: opt} = parseArgs({
  options: {
    rows: {type: 'string', default: '1000000'},
    n: {type: 'string', default: '3'},
    changed: {type: 'string', default: '0.01'},
    work: {type: 'string', default: '0'},
  },
})
const ROWS = Number(opt.rows)
const N = Number(opt.n)
const CHANGED = Math.round(ROWS * Number(opt.changed))
const dir = tempDir('burn-bench-batch-memo-')
const env = {...process.env, BURN_CACHE_DIR: join(dir, 'cache'), FORCE_COLOR: '0'}

const line = (i, x) => `{"id":${i},"name":"user${i}","x":${x},"tags":["a","b"],"active":false}\n`

/** The rows, with `changed` (a set of row numbers) given another x (positive: a negative one made V8 deopt the loop); in 1 MiB pieces. */
function writeRows(file, changed, salt) {
  const fd = openSync(file, 'w')
  let buf = ''
  for (let i = 1; i <= ROWS; i++) {
    buf += line(i, changed.has(i) ? ROWS * (salt + 1) + i : i)
    if (buf.length > 1 << 20) {
      writeFileSync(fd, buf)
      buf = ''
    }
  }
  writeFileSync(fd, buf)
  closeSync(fd)
}

/** `count` distinct row numbers from a seeded generator (the same picks on every machine). */
function pick(count, seed) {
  let s = seed >>> 0
  const out = new Set()
  while (out.size < count) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out.add((s % ROWS) + 1)
  }
  return out
}

function timed(args, outFile) {
  const fd = openSync(outFile, 'w')
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [BIN, ...args], {env, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26})
  const ms = performance.now() - t0
  closeSync(fd)
  if (r.status !== 0) throw new Error(`burn ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return {ms, summary: r.stderr.trim().split('\n').pop()}
}

process.stderr.write(`generating ${ROWS} rows in ${dir} ...\n`)
const base = join(dir, 'rows.ndjson')
writeRows(base, new Set(), 0)
const WORK = Number(opt.work)
const busy = WORK > 0 ? `let s = 0; for (let i = 0; i < ${WORK}; i++) s = (s + i * r.x) % 1000003; ` : ''
const ret = WORK > 0 ? '{id: r.id, y: r.x * 2, s}' : '{id: r.id, y: r.x * 2}'
writeFileSync(join(dir, 'map.js'), `module.exports = (rows) => rows.map((r) => { ${busy}return ${ret} })\n`)
const reg = spawnSync(process.execPath, [BIN, 'register', join(dir, 'map.js'), '--name', 'map'], {env, encoding: 'utf8'})
if (reg.status !== 0) throw new Error(`register failed: ${reg.stderr}`)

// the first --memo batch computes and stores every row
const first = timed(['batch', 'map', '-f', base, '--memo', '--json'], join(dir, 'first.out'))
const plainFirst = timed(['batch', 'map', '-f', base, '--json'], join(dir, 'plain-first.out'))
const firstSame = readFileSync(join(dir, 'first.out')).equals(readFileSync(join(dir, 'plain-first.out')))

const full = []
const memo = []
let same = firstSame
let last
for (let run = 1; run <= N; run++) {
  const file = join(dir, `rows-${run}.ndjson`)
  writeRows(file, pick(CHANGED, run * 7919), run)
  const a = timed(['batch', 'map', '-f', file, '--json'], join(dir, 'full.out'))
  const b = timed(['batch', 'map', '-f', file, '--memo', '--json'], join(dir, 'memo.out'))
  full.push(a.ms)
  memo.push(b.ms)
  last = JSON.parse(b.summary)
  same &&= readFileSync(join(dir, 'full.out')).equals(readFileSync(join(dir, 'memo.out')))
  process.stderr.write(`run ${run}/${N}: full ${(a.ms / 1000).toFixed(2)} s, --memo re-run ${(b.ms / 1000).toFixed(2)} s\n`)
}

// What any re-run costs, for the goal's sake: a --memo batch of one stored row (burn's start,
// its store opened, a runner started, its exit), a bare `node -e 0`, and the floor of the work
// itself (memo-floor.mjs: the input read, every pack read and checksummed, the results written).
// (row 1 of the base file, stored by the first --memo batch)
const oneRow = join(dir, 'one.ndjson')
writeFileSync(oneRow, line(1, 1))
const packDir = join(dir, 'cache', 'results', last.hash.slice(0, 2), last.hash)
const fixed = []
const bare = []
const floor = []
for (let run = 1; run <= N; run++) {
  fixed.push(timed(['batch', 'map', '-f', oneRow, '--memo', '--json'], join(dir, 'one.out')).ms)
  let t0 = performance.now()
  spawnSync(process.execPath, ['-e', '0'], {env})
  bare.push(performance.now() - t0)
  t0 = performance.now()
  const f = spawnSync(
    process.execPath,
    [join(ROOT, 'bench', 'memo-floor.mjs'), join(dir, `rows-${N}.ndjson`), packDir, join(dir, 'floor.out')],
    {env, encoding: 'utf8'},
  )
  floor.push(performance.now() - t0)
  if (f.status !== 0) throw new Error(`memo-floor.mjs exited ${f.status}: ${f.stderr}`)
}

const s = (ms) => `${(ms / 1000).toFixed(2)} s`
console.log(
  `\nburn batch --memo: ${ROWS.toLocaleString('en-US')} NDJSON rows, ${CHANGED.toLocaleString('en-US')} changed per re-run, ` +
    `${WORK ? `a ${WORK}-iteration loop per row, ` : 'r => ({id: r.id, y: r.x * 2}), '}` +
    `${N} interleaved runs, ${availableParallelism()} CPUs, node ${process.version}`,
)
console.log(
  table([
    ['case', 'median'],
    ['full batch (no --memo)', s(median(full))],
    ['--memo re-run, 1% of rows changed', s(median(memo))],
    ['first --memo batch (computes and stores every row; once)', s(first.ms)],
    ['plain batch of the same rows (once, right after it)', s(plainFirst.ms)],
    ['--memo batch of 1 stored row (what any batch --memo costs)', s(median(fixed))],
    ['node -e 0', s(median(bare))],
    ['floor: read the input, read and checksum every pack, write (memo-floor.mjs)', s(median(floor))],
  ]),
)
console.log(`last re-run: ${last.rowsComputed} rows computed, ${last.rowsReused} reused`)
console.log(`outputs identical to a plain batch: ${same ? 'yes' : 'NO'}`)
const ratio = median(memo) / median(full)
console.log(`--memo re-run / full batch: ${ratio.toFixed(2)}x (goal <= 0.3x: ${ratio <= 0.3 ? 'met' : 'NOT met'})`)
// (the 1-row batch and the floor each include a node start: counted once)
const bound = (median(fixed) + median(floor) - median(bare)) / median(full)
console.log(
  `floor / full batch: ${(median(floor) / median(full)).toFixed(2)}x; 1-row --memo batch / full batch: ${(median(fixed) / median(full)).toFixed(2)}x; ` +
    `the two, one node start counted once: ${bound.toFixed(2)}x`,
)
if (!same) process.exitCode = 1
