import {Args} from '@oclif/core'
import {BurnCommand} from '../oclif/base-command.js'
import {oclifFlags} from '../oclif/flags.js'
import {runDirect} from '../run/direct.js'
import {applyRemoteFlags, runRequest} from '../run/request.js'
import {remoteSpec, runSpec} from '../cli/spec.js'

export default class Run extends BurnCommand {
  static summary = 'Run a registered script with JSON in and JSON out.'
  static description = `The script is found by full hash, unique hash prefix (6+ hex digits) or name. Input comes from --input, \
--input-file, or stdin when it is not a terminal; with none, the input is null. The result is printed as one line of JSON on stdout; the \
script's console output goes to stderr. With --json the output is {"hash", "cache", "result"}.`
  static examples = [
    `<%= config.bin %> run 3f2a9c --input '{"x":1}'`,
    `<%= config.bin %> run transform --input-file row.json --pretty`,
    `echo '[1,2,3]' | <%= config.bin %> run sum --timeout 500ms --memory 64MiB`,
  ]
  static args = {script: Args.string({required: true, description: 'hash, unique prefix or name'})}
  static flags = oclifFlags({...runSpec, ...remoteSpec})

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Run)
    // The same request and supervised child as the fast path (bin/run.js); it prints its own output.
    const req = runRequest(args.script, {...flags, json: this.jsonEnabled()})
    applyRemoteFlags(flags)
    process.exitCode = await runDirect(req)
  }
}
