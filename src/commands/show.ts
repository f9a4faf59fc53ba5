import {Args} from '@oclif/core'
import {BurnCommand} from '../oclif/base-command.js'
import {showScript} from '../maintenance/catalog.js'
import {openStore} from '../store/store.js'

export default class Show extends BurnCommand {
  static summary = "Show one script's metadata and source."
  static examples = ['<%= config.bin %> show transform', '<%= config.bin %> show 3f2a9c --json']
  static args = {script: Args.string({required: true, description: 'hash, unique prefix or name'})}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Show)
    const store = await openStore(this.cacheDir(flags), {create: false})
    const {info, hash, source} = await showScript(store, args.script)
    if (!this.jsonEnabled()) {
      this.log(`hash:       ${hash}`)
      this.log(`names:      ${info?.names.join(', ') || '-'}`)
      this.log(`size:       ${info?.bytes ?? Buffer.byteLength(source)} bytes`)
      this.log(`engines:    ${info ? info.engines.join(', ') || '- (its engines record is damaged: run `burn verify`)' : '-'}`)
      this.log(`compiled:   ${info?.compiled.join(', ') || '-'}`)
      this.log(`registered: ${info?.registered ?? '-'}`)
      this.log(`last used:  ${info?.lastUsed ?? 'never'}`)
      this.log('')
      process.stdout.write(source.endsWith('\n') ? source : source + '\n')
    }
    return {...info, hash, source}
  }
}
