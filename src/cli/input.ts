import {readFile} from 'node:fs/promises'
import {BurnError, notFoundError, usageError} from '../util/errors.js'

export async function readStdin(): Promise<string> {
  return (await readStdinBytes(Infinity))!.toString('utf8')
}

/** Standard input's bytes; undefined, having stopped reading, once it passes maxBytes. */
export async function readStdinBytes(maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of process.stdin) {
    size += (c as Buffer).length
    if (size > maxBytes) return undefined // leaving the loop destroys the stream
    chunks.push(c as Buffer)
  }
  return Buffer.concat(chunks)
}

/** Standard input as a call sees it: the process's own, or what a `burn run` client sent the run daemon. */
export interface StdinSource {
  readonly isTTY: boolean
  read(): Promise<string>
}

export const processStdin: StdinSource = {
  get isTTY() {
    return Boolean(process.stdin.isTTY)
  },
  read: readStdin,
}

/** Whether a call with these flags reads standard input. */
export function readsStdin(flags: {input?: string; 'input-file'?: string}, isTTY: boolean): boolean {
  return flags.input === undefined && (flags['input-file'] === '-' || (flags['input-file'] === undefined && !isTTY))
}

/**
 * The input JSON of a call: --input, --input-file (or - for stdin), else stdin when it is
 * not a terminal, else null. Validity is checked by the runner (exit 7 on invalid JSON).
 */
export async function readInput(flags: {input?: string; 'input-file'?: string}, stdin: StdinSource = processStdin): Promise<string> {
  if (flags.input !== undefined && flags['input-file'] !== undefined) throw usageError('--input and --input-file cannot be used together')
  if (flags.input !== undefined) return flags.input
  const file = flags['input-file']
  if (file === '-') return stdin.read()
  if (file !== undefined) {
    try {
      return await readFile(file, 'utf8')
    } catch (error) {
      const e = error as NodeJS.ErrnoException
      if (e.code === 'ENOENT') throw notFoundError(`input file ${file} does not exist`)
      throw new BurnError('badData', `cannot read input file ${file}: ${e.message}`)
    }
  }
  if (!stdin.isTTY) {
    const text = await stdin.read()
    return text.trim() === '' ? 'null' : text
  }
  return 'null'
}
