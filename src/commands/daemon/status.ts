import {BurnCommand} from '../../oclif/base-command.js'
import {refuseArgs} from '../../oclif/args.js'
import {renderTable} from '../../cli/table.js'
import {listDaemons} from '../../maintenance/daemons.js'

export default class DaemonStatus extends BurnCommand {
  static summary = 'Show the run daemons of the cache dir.'
  static description = `The first \`burn run\` on a cache dir starts a run daemon in the background: it keeps a runner process started, \
with the script of the call it expects next already loaded (the call that followed the last one the last time), so later runs skip that \
work. Each call still gets a runner process of its own, under the same limits. A daemon serves one cache dir and one environment (node \
binary, burn build, TZ, locale, NODE_* variables, burn's debugging knobs such as BURN_FAULT and BURN_LOCK_*): another environment gets \
its own. It exits after BURN_DAEMON_IDLE (default 2m) without calls, when its cache dir goes away, or on \`burn daemon stop\`. \
BURN_DAEMON=off runs every call directly.`
  static examples = ['<%= config.bin %> daemon status', '<%= config.bin %> daemon status --json']
  static strict = false

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(DaemonStatus)
    refuseArgs(argv)
    const daemons = await listDaemons(this.cacheDir(flags))
    if (!this.jsonEnabled()) {
      if (daemons.length === 0) this.log('no run daemon')
      else
        this.log(
          await renderTable(
            ['key', 'pid', 'state', 'started'],
            daemons.map((d) => [
              d.key,
              d.pid ?? '-',
              d.running ? (d.listening ? 'running' : 'starting') : 'dead (left files)',
              d.startedAt ?? '-',
            ]),
          ),
        )
    }
    return {daemons}
  }
}
