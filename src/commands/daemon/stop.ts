import {BurnCommand} from '../../oclif/base-command.js'
import {refuseArgs} from '../../oclif/args.js'
import {askToStop} from '../../run/daemon/control.js'
import {stopDaemons} from '../../maintenance/daemons.js'

export default class DaemonStop extends BurnCommand {
  static summary = 'Stop the run daemons of the cache dir.'
  static description = `Each daemon finishes the calls it is serving, then exits; files left by daemons that died are removed. \
The next \`burn run\` starts a new one (unless BURN_DAEMON=off).`
  static examples = ['<%= config.bin %> daemon stop', '<%= config.bin %> daemon stop --json']
  static strict = false

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(DaemonStop)
    refuseArgs(argv)
    const daemons = await stopDaemons(this.cacheDir(flags), askToStop)
    const stopped = daemons.filter((d) => d.running).length
    if (!this.jsonEnabled())
      this.log(stopped === 0 ? 'no run daemon was running' : `stopped ${stopped} run daemon${stopped === 1 ? '' : 's'}`)
    return {stopped, daemons}
  }
}
