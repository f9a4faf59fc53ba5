// npm run torture -- [--seconds 300] [--workers 6] [--scripts 16] [--kill-rate 0.15] [--seed N]
import {torture} from './harness.js'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const opts = {
  seconds: arg('seconds', 300),
  workers: arg('workers', 6),
  scripts: arg('scripts', 16),
  killRate: arg('kill-rate', 0.15),
  seed: arg('seed', Date.now() % 1_000_000),
  log: (l: string) => console.error(l),
}
console.error(`torture: ${opts.seconds}s, ${opts.workers} workers, ${opts.scripts} scripts, kill rate ${opts.killRate}, seed ${opts.seed}`)
const rep = await torture(opts)
console.log(JSON.stringify(rep, null, 2))
const killed = rep.kills + rep.faultKills
console.log(
  `operations ${rep.operations}, killed ${killed} (${((100 * killed) / rep.operations).toFixed(1)}%: ${rep.kills} at random moments, ${rep.faultKills} at fault points), wrong results ${rep.wrongResults}, unexpected exit codes ${rep.unexpectedExits}, final verify exit ${rep.finalVerifyExit}, final runs ${rep.finalRunsCorrect}/${rep.finalRunsTotal}`,
)
process.exitCode =
  rep.wrongResults === 0 &&
  rep.unexpectedExits === 0 &&
  rep.finalVerifyExit === 0 &&
  rep.finalRunsCorrect === rep.finalRunsTotal &&
  rep.statsSane
    ? 0
    : 1
