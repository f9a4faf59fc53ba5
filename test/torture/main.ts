// npm run torture -- [--seconds 300] [--workers 6] [--scripts 16] [--kill-rate 0.1] [--fault-rate 0.35] [--seed N]
// npm run torture -- --remote [--seconds 300] [--workers 4] [--dirs 4] [--scripts 8] [--kill-rate 0.3] [--server-kill-every 20]
// (BURN_TORTURE_SEED=N works too; the seed is printed first, so any run can be reproduced)
import {DEFAULT_SEED, torture} from './harness.js'
import {remoteSummary, remoteTorture, remoteTortureHeld} from './remote.js'
import {summary, tortureHeld} from './report.js'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
if (process.argv.includes('--remote')) {
  const seed = arg('seed', Number(process.env.BURN_TORTURE_SEED) || DEFAULT_SEED)
  const o = {
    seconds: arg('seconds', 300),
    workers: arg('workers', 4),
    dirs: arg('dirs', 4),
    scripts: arg('scripts', 8),
    killRate: arg('kill-rate', 0.3),
    serverKillEvery: arg('server-kill-every', 20),
    seed,
    log: (l: string) => console.error(l),
  }
  console.error(`torture (remote): seed ${seed}, ${o.seconds}s, ${o.workers} workers, ${o.dirs} cache dirs, ${o.scripts} scripts`)
  const r = await remoteTorture(o)
  console.log(JSON.stringify(r, null, 2))
  console.log(remoteSummary(r))
  process.exit(remoteTortureHeld(r) ? 0 : 1)
}
const opts = {
  seconds: arg('seconds', 300),
  workers: arg('workers', 6),
  scripts: arg('scripts', 16),
  killRate: arg('kill-rate', 0.1),
  faultRate: arg('fault-rate', 0.35),
  seed: arg('seed', Number(process.env.BURN_TORTURE_SEED) || DEFAULT_SEED),
  log: (l: string) => console.error(l),
}
console.error(
  `torture: seed ${opts.seed}, ${opts.seconds}s, ${opts.workers} workers, ${opts.scripts} scripts, ` +
    `kill rate ${opts.killRate}, fault rate ${opts.faultRate}`,
)
const rep = await torture(opts)
console.log(JSON.stringify(rep, null, 2))
console.log(summary(rep))
process.exitCode = tortureHeld(rep) ? 0 : 1
