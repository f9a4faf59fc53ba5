// The library API's warm pool (README, "API"): calls per second of a tiny script with 64 calls in
// flight, and their p50/p99 latency, beside Afterburner's published BurnCache figures (3,886
// calls/s at 8 workers, p50 1.9 ms, p99 4.2 ms); then runJson against the physical limit, the
// same function called in this process with plain JSON.parse/stringify.
//   node bench/api.mjs [--seconds 5] [--in-flight 64] [--concurrency <runners>]
// Run after `npm run build`; it imports the built package entry, as a user would.
import {availableParallelism} from 'node:os'
import {parseArgs} from 'node:util'
import {tempDir, table} from './lib.mjs'

const {values} = parseArgs({
  options: {seconds: {type: 'string', default: '5'}, 'in-flight': {type: 'string', default: '64'}, concurrency: {type: 'string'}},
})
const seconds = Number(values.seconds)
const inFlight = Number(values['in-flight'])
const concurrency = values.concurrency === undefined ? availableParallelism() : Number(values.concurrency)
const {openCache} = await import('burn-cli')

const SOURCE = 'module.exports = (x) => ({y: x.a + 1})'
const INPUT = '{"a":41}'
const AFTERBURNER = {callsPerSec: 3886, p50: 1.9, p99: 4.2}

const cache = await openCache({cacheDir: tempDir('burn-bench-api-'), concurrency})
const {hash} = await cache.register({source: SOURCE})

/** `inFlight` callers, each awaiting its call and making the next, for `ms`; latency of every call. */
async function load(call, ms) {
  const lat = []
  const end = performance.now() + ms
  await Promise.all(
    Array.from({length: inFlight}, async () => {
      while (performance.now() < end) {
        const t = performance.now()
        await call()
        lat.push(performance.now() - t)
      }
    }),
  )
  return lat
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]

// warm-up: every runner starts and loads the script, V8 tiers the hot paths up
await load(() => cache.runJson(hash, INPUT), 1500)
const lat = (await load(() => cache.runJson(hash, INPUT), seconds * 1000)).sort((a, b) => a - b)
const callsPerSec = lat.length / seconds
const p50 = pct(lat, 50)
const p99 = pct(lat, 99)

// the physical limit: the same function in this process, JSON text in and out
const fn = new Function('module', `${SOURCE}; return module.exports`)({exports: {}})
let n = 0
const t0 = performance.now()
while (performance.now() - t0 < 1000) {
  for (let i = 0; i < 1000; i++) JSON.stringify(fn(JSON.parse(INPUT)))
  n += 1000
}
const inProcessPerSec = n / ((performance.now() - t0) / 1000)
await cache.close()

const f = (x, d = 0) => x.toLocaleString('en-US', {maximumFractionDigits: d, minimumFractionDigits: d})
console.log(`tiny script, ${inFlight} calls in flight, ${concurrency} runner(s), ${seconds} s measured (${f(lat.length)} calls)`)
console.log(
  table([
    ['', 'calls/s', 'p50 ms', 'p99 ms'],
    ['burn API runJson', f(callsPerSec), f(p50, 2), f(p99, 2)],
    ['Afterburner BurnCache (published, 8 workers)', f(AFTERBURNER.callsPerSec), f(AFTERBURNER.p50, 2), f(AFTERBURNER.p99, 2)],
    ['goal (issue 13)', '>= 10,000', '', '<= 5.00'],
    ['in-process JSON.parse + call + JSON.stringify', f(inProcessPerSec), '', ''],
  ]),
)
console.log(`burn / Afterburner: ${(callsPerSec / AFTERBURNER.callsPerSec).toFixed(2)}x calls/s`)
console.log(
  `burn / in-process: ${(callsPerSec / inProcessPerSec).toFixed(4)}x (in-process is ${f(inProcessPerSec / callsPerSec, 0)}x faster)`,
)
