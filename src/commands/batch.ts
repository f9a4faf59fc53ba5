import {Args, Errors, Flags} from '@oclif/core'
import {availableParallelism} from 'node:os'
import {BurnCommand} from '../base-command.js'
import {startBatchProgress, summaryLine} from '../cli/batch-progress.js'
import {oclifFlags} from '../cli/flags.js'
import {engineSpec, limitSpec} from '../cli/spec.js'
import {DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_ROWS, RECYCLE_GROWTH_BYTES, runBatch, type BatchSummary} from '../lib/batch/run-batch.js'
import {chunkErrorRecord} from '../lib/batch/chunk-error.js'
import type {InputFormat, OnError, OutputFormat} from '../lib/batch/types.js'
import {RunnerPool} from '../lib/engines/pool.js'
import {checkEngine} from '../lib/engines/tag.js'
import {describeError, notFoundError, usageError} from '../lib/errors.js'
import {parseLimits} from '../lib/limits.js'
import {openStore} from '../lib/store.js'

export default class Batch extends BurnCommand {
  static summary = 'Stream rows through a registered script: in chunks, in parallel, in order.'
  static description = `Rows come from --input-file or stdin, as one JSON array (streamed, never read whole) or NDJSON (one value per line; blank lines are skipped), told apart by the first non-blank byte unless --input-format says. Each chunk of --chunk-size rows is one call: the script gets an array of rows and must return an array, whose elements are written in input order, as NDJSON or (--output-format json) one JSON array. Chunks run on --concurrency runner processes at once; memory stays flat however large the input, and a slow reader of the output slows the batch down instead of filling memory. Closing the output early (| head) ends the batch with exit 0.

Limits apply per chunk. --on-error fail (the default) stops at the first failed chunk in input order, after writing every row before it, and exits 5, 6 or 7 as \`burn run\` would; skip drops failed chunks and goes on; emit also writes one JSON line per failed chunk to stderr ({"chunk", "firstRow", "lastRow", "code", "kind", "message"}). With skip and emit the exit code is 0: the summary counts the failed chunks. Rows and chunks are numbered from 1, like lines. A file given to --output appears only when the batch succeeds. The script's module body runs once per runner process, not once per chunk.

On a terminal a spinner shows progress on stderr, then one summary line; --progress shows both elsewhere too. With --json the summary (and any error) is one JSON object on stderr, and stdout still carries only rows.`

  static examples = [
    '<%= config.bin %> batch transform --input-file rows.ndjson > out.ndjson',
    'cat rows.json | <%= config.bin %> batch 3f2a9c --output-format json --output out.json',
    '<%= config.bin %> batch clean -f big.ndjson --chunk-size 500 --concurrency 4 --on-error emit 2> errors.ndjson',
    '<%= config.bin %> batch sum -f rows.json --chunk-size 0',
    '<%= config.bin %> batch transform -f rows.ndjson --json 2> summary.json | head -n 3',
  ]

  static args = {script: Args.string({required: true, description: 'hash, unique prefix or name'})}
  static flags = {
    'input-file': Flags.string({char: 'f', helpValue: '<file|->', description: 'Read rows from a file, or - for stdin (the default).'}),
    'input-format': Flags.string({options: ['auto', 'json', 'ndjson'], default: 'auto', description: 'auto: a JSON array if the first non-blank byte is [, else NDJSON.'}),
    output: Flags.string({char: 'o', helpValue: '<file>', description: 'Write rows to a file (atomically: it appears only if the batch succeeds) instead of stdout.'}),
    'output-format': Flags.string({options: ['ndjson', 'json'], default: 'ndjson', description: 'One row per line, or one JSON array.'}),
    'chunk-size': Flags.integer({
      char: 'n', min: 0, helpValue: '<rows>',
      description: `Rows per call; 0 = the whole input in one call (default ${DEFAULT_CHUNK_ROWS} rows, and at most ${DEFAULT_CHUNK_BYTES / 1024 / 1024} MiB of input per chunk).`,
    }),
    concurrency: Flags.integer({char: 'c', min: 1, helpValue: '<n>', description: 'Chunks running at once, one runner process each (default: number of CPUs).'}),
    'on-error': Flags.string({options: ['fail', 'skip', 'emit'], default: 'fail', description: 'A failed chunk: stop (fail), drop it (skip), or drop it and report it on stderr as JSON (emit).'}),
    progress: Flags.boolean({description: 'Show progress and the summary on stderr even when stderr is not a terminal.'}),
    ...oclifFlags({...engineSpec, ...limitSpec}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Batch)
    const json = this.jsonEnabled()
    const engine = checkEngine(flags.engine ?? 'v8')
    const limits = parseLimits(flags)
    const concurrency = flags.concurrency ?? availableParallelism()
    if (flags['input-file'] === undefined && process.stdin.isTTY) {
      throw usageError('no input: pipe rows into stdin or pass --input-file <file>')
    }
    // Runners start now, while the store is opened and the script resolved.
    const pool = new RunnerPool(concurrency, engine, concurrency, {depth: 2, recycleGrowthBytes: RECYCLE_GROWTH_BYTES})
    let store
    try {
      store = await openStore(this.cacheDir(flags), {create: false})
      if (!store) throw notFoundError(`no script matches ${JSON.stringify(args.script)}; the store is empty: \`burn register <file>\` adds one`, {ref: args.script})
    } catch (error) {
      pool.close()
      throw error
    }
    const progress = await startBatchProgress({force: flags.progress, quiet: json && !flags.progress})
    const {summary, error} = await runBatch(store, {
      ref: args.script, engine, limits, pool, concurrency,
      input: {file: flags['input-file'], format: flags['input-format'] as 'auto' | InputFormat},
      chunkSize: flags['chunk-size'],
      output: {file: flags.output, format: flags['output-format'] as OutputFormat},
      onError: flags['on-error'] as OnError,
      onChunkError: (e) => process.stderr.write(JSON.stringify(chunkErrorRecord(e)) + '\n'),
      onProgress: (p) => progress.update(p),
    })
    progress.stop()
    const d = error ? describeError(error) : undefined
    if (json) {
      process.stderr.write(JSON.stringify({...summaryJson(summary), ...(d ? {error: {code: d.exit, kind: d.kind, message: d.message, ...d.data}} : {})}) + '\n')
    } else {
      if (flags.progress || process.stderr.isTTY) process.stderr.write(summaryLine(summary) + '\n')
      if (d) process.stderr.write(`Error: ${d.message}\n`)
    }
    if (d) process.exitCode = d.exit
  }

  /** With --json, errors too go to stderr as one JSON object: stdout carries only rows. */
  protected async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (!this.jsonEnabled() || err instanceof Errors.ExitError) return super.catch(err)
    const d = err instanceof Errors.CLIError ? {exit: 2, kind: 'usage', message: err.message, data: {}} : describeError(err)
    process.stderr.write(JSON.stringify({error: {code: d.exit, kind: d.kind, message: d.message, ...d.data}}) + '\n')
    process.exitCode = d.exit
  }
}

function summaryJson(s: BatchSummary): Record<string, unknown> {
  const {elapsedMs, ...rest} = s
  return {...rest, seconds: Math.round(elapsedMs) / 1000}
}
