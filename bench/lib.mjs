// Shared helpers of the side-by-side benchmarks: commands are timed alternately in one run,
// so machine noise hits both sides alike; medians, and ratios are what to compare.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const BIN = join(ROOT, 'bin', 'run.js')

export function tempDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix))
  process.on('exit', () => rmSync(d, {recursive: true, force: true}))
  return d
}

export function run(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, {encoding: 'utf8', maxBuffer: 1 << 28, ...opts})
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  return {ms, stdout: r.stdout}
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Blocks this process for `ms` (no timer: nothing else runs here meanwhile). */
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * Times each named command `n` times, interleaved; returns medians in ms. `settleMs` before each
 * command: a call through the run daemon leaves it starting the next runner (a node process)
 * after the call has ended, which slowed whichever command came next by 10-20 ms when commands
 * followed back to back (session 12: two identical builds measured 172 vs 196 ms that way).
 */
export function compare(commands, n, {settleMs = 600} = {}) {
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
  for (let i = 0; i < n; i++)
    for (const [k, fn] of Object.entries(commands)) {
      pause(settleMs)
      times[k].push(fn().ms)
    }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]))
}

export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)))
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ')).join('\n')
}
