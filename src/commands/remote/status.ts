import {BurnCommand} from '../../oclif/base-command.js'
import {refuseArgs} from '../../oclif/args.js'
import {remoteFlags} from '../../oclif/remote-flags.js'
import {remoteStatus} from '../../store/remote/ops.js'

export default class RemoteStatus extends BurnCommand {
  static summary = 'Show the shared remote cache: reachable, latency, mode, prefix, key counts.'
  static description = `The remote is BURN_REMOTE or --remote (redis://[user[:password]@]host[:port][/db], rediss:// for TLS, \
unix:///path/to/redis.sock[?db=N]); BURN_REMOTE_PASSWORD keeps a password out of the URL, and no output ever shows one. A remote that \
cannot be reached is reported (reachable: false), not an error.`
  static examples = [
    'BURN_REMOTE=redis://cache.internal:6379 <%= config.bin %> remote status',
    '<%= config.bin %> remote status --remote unix:///run/redis/redis.sock --json',
  ]
  static strict = false
  static flags = {...remoteFlags}

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(RemoteStatus)
    refuseArgs(argv)
    const r = await remoteStatus(flags)
    if (!this.jsonEnabled()) {
      const lines = [`remote     ${r.remote}`, `mode       ${r.mode}`, `prefix     ${r.prefix}`]
      lines.push(`signing    ${r.signing ? 'BURN_REMOTE_KEY set' : 'no key: names and engine bindings are not shared'}`)
      if (r.reachable) {
        const k = r.keys!
        lines.push(`reachable  yes (${r.latencyMs} ms${r.server ? `, ${r.server}` : ''})`)
        lines.push(`keys       ${k.sources} sources, ${k.compiled} compiled forms, ${k.names} names, ${k.engines} engine bindings`)
      } else {
        lines.push(`reachable  no (${r.error})`)
      }
      this.log(lines.join('\n'))
    }
    return r
  }
}
