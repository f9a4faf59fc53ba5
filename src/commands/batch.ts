import {Args, Errors} from '@oclif/core'
import {BurnCommand} from '../oclif/base-command.js'
import {batchCommand, renderBatchError} from '../batch/main.js'
import {oclifFlags} from '../oclif/flags.js'
import {batchSpec} from '../cli/spec.js'
import {usageError} from '../util/errors.js'

export default class Batch extends BurnCommand {
  static summary = 'Stream rows through a registered script: in chunks, in parallel, in order.'
  static description = `Rows come from --input-file or stdin, as one JSON array (streamed, never read whole) or NDJSON (one value per \
line; blank lines are skipped), told apart by the first non-blank byte unless --input-format says. Each chunk of --chunk-size rows is one \
call: the script gets an array of rows and must return an array, whose elements are written in input order, as NDJSON or (--output-format \
json) one JSON array. Chunks run on --concurrency runner processes at once; memory stays flat however large the input, and a slow reader \
of the output slows the batch down instead of filling memory. Closing the output early (| head) ends the batch with exit 0.

Limits apply per chunk. --on-error fail (the default) stops at the first failed chunk in input order, after writing every row before it, \
and exits 5, 6 or 7 as \`burn run\` would; skip drops failed chunks and goes on; emit also writes one JSON line per failed chunk to stderr \
({"chunk", "firstRow", "lastRow", "code", "kind", "message"}). With skip and emit the exit code is 0: the summary counts the failed \
chunks. Rows and chunks are numbered from 1, like lines. A file given to --output appears only when the batch succeeds. The script's \
module body runs once per runner process, not once per chunk.

--memo looks up each row among the rows stored by earlier --memo batches of the same script, engine and --fuel (matched by their exact \
bytes) and runs only the others, so a re-run over a file that changed in a few rows computes only those rows; the output is the same \
bytes. It assumes the script maps each row on its own. Rows of chunks that succeeded are stored; the summary counts rows computed and \
reused. On the quickjs engine Date reads a fixed time under --memo, as for \`burn run --memo\`.

On a terminal a spinner shows progress on stderr, then one summary line; --progress shows both elsewhere too. With --json the summary (and \
any error) is one JSON object on stderr, and stdout still carries only rows.`

  static examples = [
    '<%= config.bin %> batch transform --input-file rows.ndjson > out.ndjson',
    'cat rows.json | <%= config.bin %> batch 3f2a9c --output-format json --output out.json',
    '<%= config.bin %> batch clean -f big.ndjson --chunk-size 500 --concurrency 4 --on-error emit 2> errors.ndjson',
    '<%= config.bin %> batch sum -f rows.json --chunk-size 0',
    '<%= config.bin %> batch transform -f rows.ndjson --json 2> summary.json | head -n 3',
    '<%= config.bin %> batch transform -f rows.ndjson --memo > out.ndjson   # again after editing a few rows: only those run',
  ]

  static args = {script: Args.string({required: true, description: 'hash, unique prefix or name'})}
  static flags = oclifFlags(batchSpec)

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Batch)
    // The same as bin/run.js's fast path, which answers whenever it can parse the arguments.
    await batchCommand(args.script, {...flags, json: this.jsonEnabled(), 'cache-dir': this.cacheDir(flags)})
  }

  protected async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (!this.jsonEnabled() || err instanceof Errors.ExitError) return super.catch(err)
    process.exitCode = renderBatchError(err instanceof Errors.CLIError ? usageError(err.message) : err, true)
  }
}
