import {BurnCommand} from '../oclif/base-command.js'
import {listScripts} from '../maintenance/catalog.js'
import {openStore} from '../store/store.js'
import {renderTable, humanBytes} from '../cli/table.js'

export default class List extends BurnCommand {
  static summary = 'List registered scripts.'
  static description = `Hash prefix, names, source size, the engines each script is registered for (--json also lists its compiled forms), \
registration time and last use.`
  static examples = ['<%= config.bin %> list', '<%= config.bin %> list --json']

  async run(): Promise<unknown> {
    const {flags} = await this.parse(List)
    const store = await openStore(this.cacheDir(flags), {create: false})
    const scripts = store ? await listScripts(store) : []
    if (!this.jsonEnabled()) {
      if (scripts.length === 0) this.log('no scripts registered; add one with `burn register <file>`')
      else {
        this.log(
          await renderTable(
            ['hash', 'names', 'size', 'engines', 'last used'],
            scripts.map((s) => [
              s.hash.slice(0, 12),
              s.names.join(', ') || '-',
              humanBytes(s.bytes),
              s.engines.join(', ') || '-',
              s.lastUsed ?? 'never',
            ]),
          ),
        )
      }
    }
    return {scripts}
  }
}
