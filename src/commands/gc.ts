import {Flags} from '@oclif/core'
import {BurnCommand} from '../oclif/base-command.js'
import {timingsFlag} from '../oclif/flags.js'
import {refuseArgs} from '../oclif/args.js'
import {startProgress} from '../cli/progress.js'
import {humanBytes, renderStepTimings, renderTable} from '../cli/table.js'
import {gcStore, type GcAction, type GcReport} from '../maintenance/gc.js'
import {openStore} from '../store/store.js'
import {parseDuration, parseSize} from '../util/units.js'

export default class Gc extends BurnCommand {
  static summary = 'Remove debris and evict scripts by size or age.'
  static description = `Always removes: tmp files older than --tmp-age (younger ones may be writes in flight), locks whose owner is gone, \
files of run daemons that are gone, set-aside (damaged) files, compiled forms and memo results whose source is gone, names that point \
nowhere, and compiled forms of other engine tags (older Node versions; --keep-foreign keeps them).
--max-size evicts least-recently-used scripts until the store's disk use (as \`du\` counts it) fits; --older-than evicts scripts not used \
for that long. A script's last use is its last run or register. Memo results (run --memo) are evicted the same way, \
by their last hit, a result before a script of the same age; a script's results go with it.
Safe while other processes register, run and batch: it takes the registry locks, skips what is in use, and a run racing an eviction gets \
its result or a clean exit 3.`
  static examples = [
    {description: 'Remove debris only', command: '<%= config.bin %> gc'},
    {description: 'Keep the store under 500 MiB, least recently used scripts first', command: '<%= config.bin %> gc --max-size 500MB'},
    {description: 'Evict scripts unused for 30 days; show what would go first', command: '<%= config.bin %> gc --older-than 30d --dry-run'},
    {description: 'Machine-readable report', command: '<%= config.bin %> gc --max-size 2GiB --json'},
    {description: 'How long each step took', command: '<%= config.bin %> gc --timings'},
  ]
  static strict = false
  static flags = {
    'max-size': Flags.string({
      helpValue: '<size>',
      description: 'Evict least-recently-used scripts until the store fits, e.g. 500MB, 2GiB (1MB = 1MiB).',
    }),
    'older-than': Flags.string({helpValue: '<age>', description: 'Evict scripts not used for this long, e.g. 30d, 12h.'}),
    'tmp-age': Flags.string({helpValue: '<age>', default: '1h', description: 'Remove tmp files older than this.'}),
    'keep-foreign': Flags.boolean({description: 'Keep compiled forms of other engine tags (other Node versions or V8 flags).'}),
    'dry-run': Flags.boolean({char: 'n', description: 'List what would be removed; change nothing.'}),
    verbose: Flags.boolean({char: 'v', description: 'List every item removed, not only the totals.'}),
    timings: timingsFlag,
  }

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Gc)
    refuseArgs(argv)
    const maxSize = flags['max-size'] === undefined ? undefined : parseSize(flags['max-size'], '--max-size')
    const olderThanMs = flags['older-than'] === undefined ? undefined : parseDuration(flags['older-than'], '--older-than', {unit: true})
    const tmpAgeMs = parseDuration(flags['tmp-age'], '--tmp-age', {unit: true})
    const store = await openStore(this.cacheDir(flags), {create: false})
    if (!store) {
      if (!this.jsonEnabled()) this.log('no store yet; nothing to collect')
      return {store: null, dryRun: flags['dry-run'], actions: [], freed: {files: 0, bytes: 0, diskBytes: 0}}
    }
    const progress = await startProgress('collecting', {quiet: this.jsonEnabled()})
    const report = await gcStore(store, {
      dryRun: flags['dry-run'],
      keepForeign: flags['keep-foreign'],
      tmpAgeMs,
      maxSize,
      olderThanMs,
      onProgress: (t) => progress.update(t),
    }).finally(() => progress.stop())
    if (!this.jsonEnabled()) this.log(await render(report, flags.verbose || flags['dry-run']))
    if (!flags.timings) return {...report, steps: undefined}
    if (!this.jsonEnabled()) this.log(await renderStepTimings(report.steps))
    return report
  }
}

const KIND_LABEL: Record<GcAction['kind'], string> = {
  tmp: 'old tmp files',
  'stale-lock': 'stale locks',
  'dead-daemon': 'files of dead run daemons',
  'set-aside': 'set-aside files',
  foreign: 'foreign compiled forms',
  orphan: 'orphan compiled forms',
  'evict-result-age': 'memo results evicted (age)',
  'evict-result-size': 'memo results evicted (size)',
  'evict-age': 'scripts evicted (age)',
  'evict-size': 'scripts evicted (size)',
  'dangling-alias': 'names pointing nowhere',
}

async function render(r: GcReport, list: boolean): Promise<string> {
  const verb = r.dryRun ? 'would remove' : 'removed'
  const out: string[] = []
  if (r.actions.length === 0) out.push('nothing to remove')
  else {
    if (list || r.actions.length <= 20) {
      out.push(
        await renderTable(
          ['kind', 'path', 'size', r.dryRun ? 'would' : 'result'],
          r.actions.map((a) => [
            a.kind,
            a.path + (a.names?.length ? ` (${a.names.join(', ')})` : ''),
            humanBytes(a.diskBytes),
            r.dryRun ? 'remove' : a.done ? 'removed' : `skipped: ${a.skipped}`,
          ]),
        ),
      )
    }
    const kinds = [...new Set(r.actions.map((a) => a.kind))]
    out.push(
      await renderTable(
        ['what', verb, 'bytes', 'on disk', 'skipped'],
        kinds.map((k) => {
          const of = r.actions.filter((a) => a.kind === k)
          const ok = of.filter((a) => a.done || (r.dryRun && !a.skipped))
          return [
            KIND_LABEL[k],
            ok.length,
            humanBytes(ok.reduce((s, a) => s + a.bytes, 0)),
            humanBytes(ok.reduce((s, a) => s + a.diskBytes, 0)),
            of.length - ok.length,
          ]
        }),
      ),
    )
  }
  const freed = `${humanBytes(r.freed.diskBytes)} on disk (${r.freed.files} files, ${humanBytes(r.freed.bytes)})`
  out.push(`${r.dryRun ? 'would free' : 'freed'} ${freed}; store ${humanBytes(r.before.diskBytes)} -> ${humanBytes(r.after.diskBytes)}`)
  if (r.maxSize !== null && !r.fits) {
    const skipped = r.skipped ? ` (${r.skipped} item(s) in use were skipped; run gc again)` : ''
    out.push(`the store is still over --max-size ${humanBytes(r.maxSize)}${skipped}`)
  }
  return out.join('\n')
}
