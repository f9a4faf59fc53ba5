import {Args} from '@oclif/core'
import {BurnCommand} from '../oclif/base-command.js'
import {remoteFlags} from '../oclif/remote-flags.js'
import {pullScripts} from '../store/remote/ops.js'
import {openStore} from '../store/store.js'
import {EXIT} from '../util/exit-codes.js'

export default class Pull extends BurnCommand {
  static summary = 'Fetch scripts from the shared remote cache ahead of time.'
  static description = `Each <script> is a full hash or a name (never a prefix). One already here is left as it is. A fetched source \
must hash to its key and a fetched compiled form pass every check a local one does; a name is followed only with a valid signature \
(BURN_REMOTE_KEY), and a script whose engine binding is not signed is registered for quickjs only. Exit 3 if any could not be fetched.`
  static examples = [
    '<%= config.bin %> pull 3f2a9c0d...e1 --remote redis://cache.internal:6379',
    'BURN_REMOTE_KEY=... <%= config.bin %> pull transform clean --json',
  ]
  static strict = false
  static args = {script: Args.string({required: true, description: 'full hashes or names'})}
  static flags = {...remoteFlags}

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Pull)
    const store = (await openStore(this.cacheDir(flags), {create: true}))!
    const items = await pullScripts(store, argv as string[], flags)
    if (items.some((i) => i.status === 'missing' || i.status === 'refused')) process.exitCode = EXIT.notFound
    if (!this.jsonEnabled()) {
      for (const i of items) {
        this.log(`${i.hash ?? '-'.padEnd(64)}  ${i.status.padEnd(8)}  ${i.ref}`)
        if (i.message) process.stderr.write(`Error: ${i.message}\n`)
      }
    }
    return {results: items}
  }
}
