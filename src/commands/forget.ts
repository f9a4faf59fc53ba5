import {Args} from '@oclif/core'
import {BurnCommand} from '../oclif/base-command.js'
import {forgetScript, type ForgetOutcome} from '../maintenance/forget.js'
import {openStore} from '../store/store.js'

export default class Forget extends BurnCommand {
  static summary = 'Remove scripts: source, compiled forms and names.'
  static description = `Idempotent: a script that is already gone is reported and is not an error. Takes the registry locks, so it never \
races a register of the same script.`
  static examples = ['<%= config.bin %> forget transform', '<%= config.bin %> forget 3f2a9c 81b0de --json']
  static strict = false
  static args = {script: Args.string({required: true, description: 'hashes, unique prefixes or names'})}

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Forget)
    const store = await openStore(this.cacheDir(flags), {create: false})
    const out: ForgetOutcome[] = []
    for (const ref of argv as string[]) {
      const o = await forgetScript(store, ref)
      out.push(o)
      if (!this.jsonEnabled()) {
        this.log(
          o.removed ? `forgot ${o.hash}${o.names.length ? ` (${o.names.join(', ')})` : ''}` : `${ref}: not registered (nothing to do)`,
        )
      }
    }
    return {forgotten: out}
  }
}
