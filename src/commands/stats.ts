import {Flags} from '@oclif/core'
import {BurnCommand} from '../oclif/base-command.js'
import {refuseArgs} from '../oclif/args.js'
import {humanBytes, renderTable} from '../cli/table.js'
import {statsReport, type StatsReport} from '../maintenance/stats-report.js'
import {openStore} from '../store/store.js'
import {compareCounters, counterLabel} from '../store/stats/counters.js'

export default class Stats extends BurnCommand {
  static summary = 'Show cache counters and store size.'
  static description = `Counters are shared by every process and exact under concurrency; they survive restarts until --zero resets them \
(the store itself is untouched). Store sizes come from a walk of the cache directory at the time of the call: bytes are file sizes, "on \
disk" is what \`du -s -B1\` reports.`
  static examples = [
    {description: 'Counters and store size as tables', command: '<%= config.bin %> stats'},
    {description: 'The same for scripts', command: `<%= config.bin %> stats --json | jq '.counters["runs.ok"], .store.diskBytes'`},
    {description: 'Reset the counters (not the store)', command: '<%= config.bin %> stats --zero'},
  ]
  static strict = false
  static flags = {zero: Flags.boolean({char: 'z', description: 'Reset the counters (not the store) and restart their "since" time.'})}

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Stats)
    refuseArgs(argv)
    const store = await openStore(this.cacheDir(flags), {create: flags.zero})
    if (!store) {
      if (!this.jsonEnabled()) this.log('no store yet; `burn register <file>` creates it')
      return {since: null, counters: {}, derived: null, store: null}
    }
    const report = await statsReport(store, {zero: flags.zero})
    if (!this.jsonEnabled()) this.log(await render(report, flags.zero))
    return report
  }
}

async function render(r: StatsReport, zeroed: boolean): Promise<string> {
  const {counters, derived, store: u} = r
  const rows: Array<[string, string | number]> = Object.keys(counters)
    .sort(compareCounters)
    .map((k) => [counterLabel(k), counters[k]])
  rows.push(
    ['runs (all outcomes)', derived.runs],
    ['code-cache hits in runs', derived.runHits],
    ['compile time saved (estimate, ms)', derived.estimatedCompileMsSaved],
  )
  const storeRows: Array<[string, string | number]> = [
    ['scripts', `${u.scripts} (${humanBytes(u.sourceBytes)} of source)`],
    ['names', u.names],
    ...Object.entries(u.compiled).map(([t, c]): [string, string] => [
      `compiled ${t}${c.foreign ? ' (foreign)' : ''}`,
      `${c.files} files, ${humanBytes(c.bytes)}`,
    ]),
    // (shown once there are some: a store that never memoized looks as before)
    ...(u.results.files > 0 ? [['memo results', `${u.results.files} files, ${humanBytes(u.results.bytes)}`] as [string, string]] : []),
    ['stats files', `${u.areas.stats.files} (${humanBytes(u.areas.stats.bytes)})`],
    ['tmp files', `${u.debris.tmpFiles} (${humanBytes(u.debris.tmpBytes)})`],
    ['locks', `${u.debris.locks} (${u.debris.staleLocks} stale)`],
    ['set-aside files', `${u.debris.damagedFiles} (${humanBytes(u.debris.damagedBytes)})`],
    ['total', `${u.totalFiles} files, ${humanBytes(u.totalBytes)}; ${humanBytes(u.diskBytes)} on disk`],
  ]
  return [
    `${zeroed ? 'counters reset; ' : ''}counters since ${r.since}`,
    await renderTable(['counter', 'value'], rows),
    await renderTable(['store', 'size'], storeRows),
  ].join('\n')
}
