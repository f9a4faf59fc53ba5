// The library API's warm pool (README, "API"): calls per second of a tiny script with 64 calls in
// flight, and their p50/p99 latency, beside Afterburner's published BurnCache figures (3,886
// calls/s at 8 workers, p50 1.9 ms, p99 4.2 ms); then runJson against the physical limit, the
// same function called in this process with plain JSON.parse/stringify.
//   node bench/api.mjs [--seconds 5] [--in-flight 64] [--concurrency <runners>]
// Also measured with 8 in flight, Afterburner's worker count: by Little's law a call's latency is
// at least (calls in flight) / (calls per second), so 64 in flight at 10,000 calls/s is 6.4 ms on
// average whatever the pool does; p99 <= 5 ms at 64 in flight needs well over 10,000 calls/s.
// Run after `npm run build`; it imports the built package entry, as a user would.
import {availableParallelism, loadavg} from 'node:os'
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

/** `callers` callers, each awaiting its call and making the next, for `ms`; latency of every call. */
async function load(call, ms, callers) {
  const lat = []
  const end = performance.now() + ms
  await Promise.all(
    Array.from({length: callers}, async () => {
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

async function measure(callers) {
  const lat = (await load(() => cache.runJson(hash, INPUT), seconds * 1000, callers)).sort((a, b) => a - b)
  return {callers, calls: lat.length, callsPerSec: lat.length / seconds, p50: pct(lat, 50), p99: pct(lat, 99)}
}

// warm-up: every runner starts and loads the script, V8 tiers the hot paths up
await load(() => cache.runJson(hash, INPUT), 1500, inFlight)
const load0 = loadavg()[0]
const main = await measure(inFlight)
const eight = await measure(8)

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
console.log(`tiny script, ${concurrency} runner(s), ${seconds} s per row, load average ${load0.toFixed(1)} at the start`)
console.log(
  table([
    ['', 'in flight', 'calls/s', 'p50 ms', 'p99 ms'],
    ...[main, eight].map((m) => ['burn API runJson', m.callers, f(m.callsPerSec), f(m.p50, 2), f(m.p99, 2)]),
    ['Afterburner BurnCache (published)', '8 workers', f(AFTERBURNER.callsPerSec), f(AFTERBURNER.p50, 2), f(AFTERBURNER.p99, 2)],
    ['goal (issue 13)', inFlight, '>= 10,000', '', '<= 5.00'],
    ['in-process JSON.parse + call + JSON.stringify', 1, f(inProcessPerSec), '', ''],
  ]),
)
console.log(`burn / Afterburner: ${(main.callsPerSec / AFTERBURNER.callsPerSec).toFixed(2)}x calls/s (${inFlight} in flight)`)
console.log(
  `runJson / in-process: ${(main.callsPerSec / inProcessPerSec).toFixed(4)} (in-process is ${f(inProcessPerSec / main.callsPerSec)}x faster)`,
)
