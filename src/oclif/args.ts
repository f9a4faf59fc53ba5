import {Errors} from '@oclif/core'

/**
 * For commands that take no argument. oclif joins a word after such a command into a command id
 * (`burn verify extra` would be "command verify:extra not found"); these commands declare
 * `strict = false` so oclif hands the word over, and it is refused here as oclif words it for
 * commands with arguments: a usage error, exit 2.
 */
export function refuseArgs(argv: unknown[]): void {
  if (argv.length > 0)
    throw new Errors.CLIError(`Unexpected argument${argv.length > 1 ? 's' : ''}: ${argv.join(', ')}\nSee more help with --help`)
}
