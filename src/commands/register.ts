import {Args, Flags} from '@oclif/core'
import {BurnCommand} from '../oclif/base-command.js'
import {oclifFlags} from '../oclif/flags.js'
import {remoteFlags} from '../oclif/remote-flags.js'
import {readStdinBytes} from '../cli/input.js'
import {startProgress} from '../cli/progress.js'
import {engineSpec, limitSpec} from '../cli/spec.js'
import {parseConcurrency} from '../util/concurrency.js'
import {BurnError, usageError} from '../util/errors.js'
import type {ExitKind} from '../util/exit-codes.js'
import {checkEngine} from '../engines/tag.js'
import {parseLimits} from '../cli/limits.js'
import {registerMany} from '../register/register-many.js'
import {DEFAULT_MAX_SOURCE, expandSources, sourceTooLarge} from '../register/sources.js'
import {openStore} from '../store/store.js'
import {formatSize, parseSize} from '../util/units.js'

/** The status column, one width (fetched: the compiled form came from the shared remote cache). */
const STATUS = {hit: 'hit     ', compiled: 'compiled', fetched: 'fetched '}

export default class Register extends BurnCommand {
  static summary = 'Hash, compile and store scripts; print their hashes.'
  static description = `Each source is stored under the SHA-256 of its exact bytes (the same as sha256sum) and compiled once per engine, \
however many processes register it at the same time. Registering the same bytes again is a hit. A syntax error exits 4 with file, line and \
column and stores nothing.

Trust is decided here: the engines a script is registered for are stored with it, and runs without --engine use them (the quickjs sandbox \
when both). Without --engine a new script is registered for v8 (trusted code) and a stored one keeps its engines; a script registered only \
with --engine quickjs never runs on v8 until it is registered again with --engine v8.`
  static examples = [
    '<%= config.bin %> register transform.js',
    '<%= config.bin %> register transform.js --name transform',
    `<%= config.bin %> register 'scripts/**/*.js' --json`,
    'cat untrusted.js | <%= config.bin %> register - --engine quickjs',
  ]
  static strict = false
  static args = {file: Args.string({required: true, description: 'files, globs, or - for stdin'})}
  static flags = {
    name: Flags.string({char: 'n', description: 'Give the script a name to run it by (one file only).', helpValue: '<alias>'}),
    concurrency: Flags.integer({char: 'c', min: 1, description: 'Runner processes compiling at once (default: number of CPUs).'}),
    'max-source': Flags.string({
      helpValue: '<size>',
      description: `Largest source to read, e.g. 128MiB (default ${formatSize(DEFAULT_MAX_SOURCE)}); stdin too.`,
    }),
    ...oclifFlags({...engineSpec, timeout: limitSpec.timeout, memory: limitSpec.memory}),
    ...remoteFlags,
  }

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Register)
    const files = argv as string[]
    const maxSource = flags['max-source'] === undefined ? DEFAULT_MAX_SOURCE : parseSize(flags['max-source'], '--max-source')
    const stdin = async () => (await readStdinBytes(maxSource)) ?? Promise.reject(sourceTooLarge('<stdin>', maxSource))
    const inputs = await expandSources(files, stdin, maxSource)
    if (flags.name !== undefined && inputs.length !== 1) throw usageError(`--name needs exactly one script, got ${inputs.length}`)
    const limits = parseLimits(flags)
    const concurrency = parseConcurrency(flags.concurrency)
    const store = (await openStore(this.cacheDir(flags), {create: true}))!
    const progress = await startProgress(`registering ${inputs.length} script(s)`, {quiet: this.jsonEnabled()})
    const items = await registerMany(
      store,
      inputs,
      {
        name: flags.name,
        engine: flags.engine === undefined ? undefined : checkEngine(flags.engine),
        limits,
        concurrency,
        remote: {remote: flags.remote, 'remote-mode': flags['remote-mode']},
      },
      (_, done) => progress.update(`registered ${done}/${inputs.length}`),
    ).finally(() => progress.stop())

    const failures = items.flatMap((i) => (i.ok ? [] : [i.failure]))
    // One script that fails is reported like any other command's error.
    if (items.length === 1 && failures.length === 1)
      throw new BurnError(failures[0].kind as ExitKind, failures[0].message, {file: failures[0].file})
    if (failures.length > 0) process.exitCode = failures[0].code
    if (!this.jsonEnabled()) {
      for (const it of items) {
        if (it.ok) {
          const o = it.outcome
          this.log(`${o.hash}  ${STATUS[o.status]}  ${o.name ?? '-'}  ${o.file}`)
        } else {
          process.stderr.write(`Error: ${it.failure.message}\n`)
        }
      }
    }
    return {
      results: items.flatMap((i) => (i.ok ? [i.outcome] : [])),
      errors: failures,
    }
  }
}
