// Store maintenance at scale, side by side: a store of 10 scripts, of 1,000 and of 10,000.
//   - `burn run` hit latency: must not depend on the store's size (ratio 10,000 / 10 <= 1.05)
//   - `burn stats` (under 1 s at 10,000), `burn verify`, `burn gc --max-size`: seconds, and how
//     they grow from 1,000 to 10,000 scripts (10x the scripts: linear is a ratio of about 10)
// Reproduce: npm run build && node bench/maintenance.mjs   (BENCH_SCRIPTS=2000 for a quick look)
import {cpSync, lstatSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {cpus} from 'node:os'
import {join} from 'node:path'
import {BIN, median, run, table, tempDir} from './lib.mjs'

const BIG = Number(process.env.BENCH_SCRIPTS ?? 10_000)
const MID = Math.round(BIG / 10)
const SMALL = 10
const RUNS = Number(process.env.BENCH_RUNS ?? 60)
const work = tempDir('burn-bench-maint-')

function burn(cache, args) {
  const r = run(process.execPath, [BIN, ...args], {env: {...process.env, BURN_CACHE_DIR: cache}, maxBuffer: 1 << 30})
  return {ms: r.ms, out: r.stdout}
}

// The same script i has the same bytes (so the same hash) in every store.
const source = (i) => `module.exports = (x) => ({i: ${i}, x, label: ${JSON.stringify(`script-${i}-`.repeat(4))}})\n`
function makeStore(n) {
  const src = join(work, `src-${n}`)
  mkdirSync(src, {recursive: true})
  for (let i = 0; i < n; i++) writeFileSync(join(src, `s${i}.js`), source(i))
  const cache = join(work, `cache-${n}`)
  const r = burn(cache, ['register', join(src, '*.js'), '--json'])
  const hashes = JSON.parse(r.out).results.map((x) => x.hash)
  if (hashes.length !== n) throw new Error(`registered ${hashes.length} of ${n}`)
  return {n, cache, hashes, registerMs: r.ms}
}

const log = (s) => process.stderr.write(s + '\n')
log(`building stores of ${SMALL}, ${MID} and ${BIG} scripts in ${work} (one \`burn register <glob>\` each)...`)
const stores = [SMALL, MID, BIG].map((n) => {
  const s = makeStore(n)
  log(`  ${n} scripts registered in ${(s.registerMs / 1000).toFixed(1)} s`)
  return s
})
const [small, mid, big] = stores

// 1. Run hit latency, interleaved small/big so machine noise falls on both alike.
log(`run hit latency: ${RUNS} runs per store and lookup, interleaved...`)
const lat = {hash: {small: [], big: []}, prefix: {small: [], big: []}}
for (let i = 0; i < 3; i++) for (const s of [small, big]) burn(s.cache, ['run', s.hashes[0], '--input', '1'])
for (let i = 0; i < RUNS; i++) {
  const h = small.hashes[i % SMALL] // present in both stores
  const order =
    i % 2
      ? [
          ['small', small],
          ['big', big],
        ]
      : [
          ['big', big],
          ['small', small],
        ]
  for (const [k, s] of order) {
    lat.hash[k].push(burn(s.cache, ['run', h, '--input', String(i)]).ms)
    lat.prefix[k].push(burn(s.cache, ['run', h.slice(0, 10), '--input', String(i)]).ms)
  }
}

// 2. stats, 3. verify: medians of 3 calls each.
log('burn stats and burn verify...')
const timeOf = (s, args, reps = 3) => median(Array.from({length: reps}, () => burn(s.cache, args).ms))
const statsMs = stores.map((s) => timeOf(s, ['stats', '--json'], 5))
const verifyMs = stores.map((s) => {
  const r = JSON.parse(burn(s.cache, ['verify', '--json']).out)
  if (r.problems.length !== 0 || r.checked.sources !== s.n) throw new Error(`verify of ${s.n}: ${JSON.stringify(r).slice(0, 500)}`)
  return timeOf(s, ['verify', '--json'])
})

// 4. gc --max-size that makes half the scripts go (by disk use of sources and compiled forms),
// on a fresh copy each time (the copy is not timed).
log('burn gc --max-size (evicting half the scripts)...')
const gc = stores.map((s) => {
  const runs = []
  for (let rep = 0; rep < 2; rep++) {
    const copy = join(work, `gc-${s.n}-${rep}`)
    // the run daemon of the timed runs above may still listen in the store: a socket cannot be copied
    cpSync(s.cache, copy, {recursive: true, filter: (src) => !lstatSync(src).isSocket()})
    const {diskBytes, areas} = JSON.parse(burn(copy, ['stats', '--json']).out).store
    const max = Math.floor(diskBytes - (areas.objects.diskBytes + areas.compiled.diskBytes) / 2)
    const r = burn(copy, ['gc', '--max-size', String(max), '--json'])
    const rep_ = JSON.parse(r.out)
    if (!rep_.fits) throw new Error(`gc of ${s.n} did not fit`)
    runs.push({ms: r.ms, evicted: rep_.actions.filter((a) => a.kind === 'evict-size' && a.done).length})
    rmSync(copy, {recursive: true, force: true})
  }
  return {ms: median(runs.map((x) => x.ms)), evicted: runs[0].evicted}
})

const f = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`)
const x = (a, b) => `${(a / b).toFixed(2)}x`
// Net of the fixed cost (process start, oclif): the 10-script store's time, per script.
const net = (t) => `${(((t[1] - t[0]) / (MID - SMALL)) * 1000).toFixed(0)} / ${(((t[2] - t[0]) / (BIG - SMALL)) * 1000).toFixed(0)} us`
const rows = [
  ['measure', `${SMALL} scripts`, `${MID} scripts`, `${BIG} scripts`, 'ratio', 'per script, net (mid / big)', 'target'],
  [
    'burn run hit, full hash (median)',
    f(median(lat.hash.small)),
    '',
    f(median(lat.hash.big)),
    `${x(median(lat.hash.big), median(lat.hash.small))} (${BIG}/${SMALL})`,
    '',
    '<= 1.05x',
  ],
  [
    'burn run hit, 10-digit prefix (median)',
    f(median(lat.prefix.small)),
    '',
    f(median(lat.prefix.big)),
    `${x(median(lat.prefix.big), median(lat.prefix.small))} (${BIG}/${SMALL})`,
    '',
    '<= 1.05x',
  ],
  ['burn stats --json', f(statsMs[0]), f(statsMs[1]), f(statsMs[2]), `${x(statsMs[2], statsMs[1])} (${BIG}/${MID})`, net(statsMs), '< 1 s'],
  [
    'burn verify',
    f(verifyMs[0]),
    f(verifyMs[1]),
    f(verifyMs[2]),
    `${x(verifyMs[2], verifyMs[1])} (${BIG}/${MID})`,
    net(verifyMs),
    'seconds, linear',
  ],
  [
    `burn gc --max-size (evicts ${gc[0].evicted}/${gc[1].evicted}/${gc[2].evicted})`,
    f(gc[0].ms),
    f(gc[1].ms),
    f(gc[2].ms),
    `${x(gc[2].ms, gc[1].ms)} (${BIG}/${MID})`,
    net(gc.map((g) => g.ms)),
    'seconds, linear',
  ],
  [
    'burn register <glob> (store setup)',
    f(small.registerMs),
    f(mid.registerMs),
    f(big.registerMs),
    `${x(big.registerMs, mid.registerMs)} (${BIG}/${MID})`,
    net(stores.map((s) => s.registerMs)),
    '',
  ],
]
console.log(
  `burn maintenance benchmark — node ${process.version}, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), ${RUNS} runs per store and lookup`,
)
console.log(table(rows))
console.log(`run hit latency p10/p90 (ms): ${SMALL}: ${pct(lat.hash.small)}; ${BIG}: ${pct(lat.hash.big)}`)
console.log('reproduce: npm run build && node bench/maintenance.mjs')

function pct(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return `${s[Math.floor(s.length * 0.1)].toFixed(0)}/${s[Math.floor(s.length * 0.9)].toFixed(0)}`
}
