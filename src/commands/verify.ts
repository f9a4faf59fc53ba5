import {Flags} from '@oclif/core'
import {BurnCommand} from '../oclif/base-command.js'
import {timingsFlag} from '../oclif/flags.js'
import {refuseArgs} from '../oclif/args.js'
import {startProgress} from '../cli/progress.js'
import {humanBytes, renderStepTimings, renderTable} from '../cli/table.js'
import {EXIT} from '../util/exit-codes.js'
import {exists} from '../store/store.js'
import {verifyStore, type VerifyReport} from '../maintenance/verify.js'

export default class Verify extends BurnCommand {
  static summary = 'Check every file of the store; --fix repairs what it finds.'
  static description = `Re-hashes every source (SHA-256) against its name; checks every compiled form (header, checksums, engine tag, \
source hash and the source it was made from), every name, store.json, the stats files and the permissions (0700 directories, 0600 files). \
Each problem is reported once with what --fix does about it: a damaged source is set aside (damaged/) with its compiled forms and names, \
so the script is simply not registered until it is registered again; a damaged compiled form is set aside and the next run compiles again; \
debris (old tmp files, stale locks, orphan or foreign compiled forms) is removed.
Exit 8 while damage remains; 0 when the store is clean (debris alone does not fail the check).`
  static examples = [
    {description: 'Check the store', command: '<%= config.bin %> verify'},
    {description: 'Check and repair', command: '<%= config.bin %> verify --fix'},
    {
      description: 'In CI: fail on damage, report as JSON',
      command: '<%= config.bin %> verify --json > verify.json || echo "store damaged"',
    },
    {description: 'How long each step took', command: '<%= config.bin %> verify --timings'},
  ]
  static strict = false
  static flags = {
    fix: Flags.boolean({description: 'Repair: set aside or remove damage and debris so the store is clean.'}),
    'keep-foreign': Flags.boolean({description: 'Do not count compiled forms of other engine tags as debris (they are still checked).'}),
    timings: timingsFlag,
  }

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Verify)
    refuseArgs(argv)
    const dir = this.cacheDir(flags)
    if (!(await exists(dir))) {
      if (!this.jsonEnabled()) this.log('no store yet; nothing to verify')
      return {store: null, clean: true, damage: 0, problems: []}
    }
    const progress = await startProgress('verifying', {quiet: this.jsonEnabled()})
    const report = await verifyStore(dir, {
      fix: flags.fix,
      keepForeign: flags['keep-foreign'],
      onProgress: (done, total) => progress.update(`verifying ${done}/${total} files`),
    }).finally(() => progress.stop())
    if (!this.jsonEnabled()) this.log(await render(report))
    if (flags.timings && !this.jsonEnabled()) this.log(await renderStepTimings(report.steps))
    if (report.damage > 0) {
      process.exitCode = EXIT.store
      if (!this.jsonEnabled())
        process.stderr.write(`Error: ${report.damage} damaged item(s) remain${report.fix ? '' : '; run `burn verify --fix`'}\n`)
    }
    return flags.timings ? report : {...report, steps: undefined}
  }
}

async function render(r: VerifyReport): Promise<string> {
  const c = r.checked
  const out: string[] = []
  if (r.problems.length > 0) {
    out.push(
      await renderTable(
        ['problem', 'path', 'detail', r.fix ? 'repair' : 'with --fix'],
        r.problems.map((p) => [
          `${p.kind}${p.severity === 'debris' ? ' (debris)' : ''}`,
          p.path,
          p.detail,
          r.fix ? `${p.fixed ? 'done' : 'NOT done'}: ${p.action}` : p.action,
        ]),
      ),
    )
  }
  const stored = `${c.sources} sources (${humanBytes(c.sourceBytes)}), ${c.compiled} compiled forms (${humanBytes(c.compiledBytes)})`
  // (memo results named only once there are some: the line of a store that never memoized is as before)
  const results = c.results > 0 ? `, ${c.results} memo results` : ''
  const other = `${c.names} names, ${c.locks} locks, ${c.tmpFiles} tmp files, ${c.statsFiles} stats files${results}`
  out.push(`checked ${stored}, ${other} in ${(r.ms / 1000).toFixed(1)} s`)
  const fixed = r.problems.filter((p) => p.fixed).length
  const damage = r.problems.filter((p) => p.severity === 'damage').length
  out.push(
    r.problems.length === 0
      ? 'the store is clean'
      : r.fix
        ? `${r.problems.length} problem(s) found, ${fixed} repaired${r.clean ? '; the store is clean' : ''}`
        : `${r.problems.length} problem(s) found (${damage} damage); \`burn verify --fix\` repairs them`,
  )
  if (r.setAside > 0) out.push(`${r.setAside} set-aside file(s) in damaged/; \`burn gc\` removes them`)
  return out.join('\n')
}
