import {Flags} from '@oclif/core'
import {BurnCommand} from '../base-command.js'
import {humanBytes, renderTable} from '../cli/table.js'
import {compactStats, readStats} from '../lib/stats.js'
import {openStore} from '../lib/store.js'
import {storeUsage} from '../lib/usage.js'

export default class Stats extends BurnCommand {
  static summary = 'Show cache counters and store size.'
  static description = 'Counters are shared by every process and exact under concurrency; they survive restarts until --zero resets them (the store itself is untouched).'
  static examples = ['<%= config.bin %> stats', '<%= config.bin %> stats --json', '<%= config.bin %> stats --zero']
  static flags = {zero: Flags.boolean({char: 'z', description: 'Reset the counters (not the store).'})}

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Stats)
    const store = await openStore(this.cacheDir(flags), {create: flags.zero})
    if (!store) {
      const empty = {since: null, counters: {}, store: null}
      if (!this.jsonEnabled()) this.log('no store yet; `burn register <file>` creates it')
      return empty
    }
    if (flags.zero) await compactStats(store.layout, {zero: true})
    else await compactStats(store.layout).catch(() => false)
    const [totals, usage] = await Promise.all([readStats(store.layout), storeUsage(store)])
    const counters: Record<string, number> = {hits: 0, misses: 0, compiles: 0, ...totals.counters}
    const avgCompile = counters.compiles > 0 ? (counters.compileMs ?? 0) / counters.compiles : 0
    const derived = {estimatedCompileMsSaved: Math.round(avgCompile * counters.hits)}
    if (!this.jsonEnabled()) {
      this.log(`counters since ${new Date(totals.since).toISOString()}`)
      this.log(await renderTable(['counter', 'value'], [...Object.entries(counters).sort(), ['compile ms saved (estimate)', derived.estimatedCompileMsSaved]]))
      this.log(await renderTable(['store', 'value'], [
        ['scripts', usage.scripts], ['names', usage.names], ['sources', humanBytes(usage.sourceBytes)],
        ...Object.entries(usage.compiled).map(([t, c]) => [`compiled ${t}`, `${c.files} files, ${humanBytes(c.bytes)}`]),
        ['tmp files', `${usage.debris.tmpFiles} (${humanBytes(usage.debris.tmpBytes)})`], ['stale locks', usage.debris.staleLocks],
        ['set-aside files', `${usage.debris.damagedFiles} (${humanBytes(usage.debris.damagedBytes)})`], ['total', humanBytes(usage.totalBytes)],
      ]))
    }
    return {since: new Date(totals.since).toISOString(), counters, derived, store: usage}
  }
}
