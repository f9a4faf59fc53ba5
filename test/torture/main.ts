// npm run torture -- [--seconds 300] [--workers 6] [--scripts 16] [--kill-rate 0.1] [--fault-rate 0.35] [--seed N]
// (BURN_TORTURE_SEED=N works too; the seed is printed first, so any run can be reproduced)
import {DEFAULT_SEED, torture} from './harness.js'
import {summary, tortureHeld} from './report.js'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
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
