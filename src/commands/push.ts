import {Args} from '@oclif/core'
import {BurnCommand} from '../oclif/base-command.js'
import {remoteFlags} from '../oclif/remote-flags.js'
import {storeError} from '../util/errors.js'
import {humanBytes} from '../cli/table.js'
import {pushScripts} from '../store/remote/ops.js'
import {openStore} from '../store/store.js'

export default class Push extends BurnCommand {
  static summary = 'Publish local scripts to the shared remote cache.'
  static description = `Publishes each script's source and its compiled forms for this machine's engines (all local scripts without \
arguments: a CI warm-up from an existing cache dir). With BURN_REMOTE_KEY set, its names, engine binding and memoized results \
(\`run --memo\` results and \`batch --memo\` rows) go too, signed; without it they stay local, and other machines run what they \
fetch on quickjs only. What the remote already holds is not sent again. \
Needs read-write mode; a remote that fails midway is exit 8 after one warning line.`
  static examples = [
    'BURN_REMOTE=redis://cache.internal:6379 <%= config.bin %> push',
    '<%= config.bin %> push transform 3f2a9c --remote rediss://cache.internal:6380',
    '<%= config.bin %> push --json',
  ]
  static strict = false
  static args = {script: Args.string({required: false, description: 'hashes, prefixes or names (default: every local script)'})}
  static flags = {...remoteFlags}

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Push)
    const store = await openStore(this.cacheDir(flags), {create: false})
    const report = await pushScripts(store, argv as string[], flags)
    if (report.error !== undefined) throw storeError(`push stopped: the remote cache failed (${report.error})`, {...report})
    if (!this.jsonEnabled()) {
      this.log(`${report.scripts} script(s): ${report.published} value(s) published (${humanBytes(report.bytes)}), the rest already there`)
    }
    return report
  }
}
