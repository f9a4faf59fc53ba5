import type {TortureReport} from './harness.js'

/** The report in a few lines: what was killed where, what the daemon served, the oracle, the end state. */
export function summary(r: TortureReport): string {
  const inside = Object.entries(r.insideKills)
    .filter(([, n]) => n > 0)
    .map(([w, n]) => `${w} ${n}`)
    .join(', ')
  const o = Object.entries(r.oracle.counters)
    .map(([id, c]) => `${id} ${c.actual} in [${c.lo}, ${c.hi}] (${c.exactOps} exact)`)
    .join('; ')
  return [
    `seed ${r.seed}: operations ${r.operations}, armed ${r.armed}`,
    `kills inside store work ${r.stopKills + r.selfKills} (${r.stopKills} stopped then killed, ${r.selfKills} by the point): ${inside}`,
    `points: ${Object.entries(r.insidePoints)
      .map(([pt, n]) => `${pt} ${n}`)
      .join(', ')}`,
    `random kills ${r.randomKills}, run daemons killed ${r.daemonKills}`,
    `runs served by a daemon ${r.daemonServed} (${r.daemonServedOk} exit 0), direct ${r.directRuns}, fallbacks ${r.fallbacks}`,
    `counter oracle ${r.oracle.held ? 'held' : 'FAILED'}: ${o}`,
    `wrong results ${r.wrongResults}, unexpected exits ${r.unexpectedExits}, damage burn made ${r.unplannedDamage}, ` +
      `final verify exit ${r.finalVerifyExit}, debris ${r.debris.length}, final runs ${r.finalRunsCorrect}/${r.finalRunsTotal}`,
  ].join('\n')
}

export function tortureHeld(r: TortureReport): boolean {
  return (
    r.wrongResults === 0 &&
    r.unexpectedExits === 0 &&
    r.unplannedDamage === 0 &&
    r.finalGcExit === 0 &&
    r.finalVerifyExit === 0 &&
    r.debris.length === 0 &&
    r.finalRunsCorrect === r.finalRunsTotal &&
    r.oracle.held
  )
}
