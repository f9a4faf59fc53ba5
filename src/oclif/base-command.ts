import {Command, Errors} from '@oclif/core'
import {defaultCacheDir} from '../store/cache-dir.js'
import {oclifFlags} from './flags.js'
import {renderError} from '../cli/render.js'
import {cacheDirSpec} from '../cli/spec.js'

/**
 * Shared by every command: --json, --cache-dir, and error output with the README's exit codes.
 * oclif's own catch loses custom exit codes under --json (oclif/core#1423), so errors are
 * rendered here and the exit code is set explicitly.
 */
export abstract class BurnCommand extends Command {
  static enableJsonFlag = true
  static baseFlags = oclifFlags(cacheDirSpec)

  protected cacheDir(flags: {'cache-dir'?: string}): string {
    return flags['cache-dir'] ?? defaultCacheDir()
  }

  protected async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // Parse errors (unknown flag, missing argument, bad option) are usage errors: exit 2.
    if (err instanceof Errors.CLIError && !(err instanceof Errors.ExitError)) {
      if (this.jsonEnabled()) {
        process.stdout.write(JSON.stringify({error: {code: 2, kind: 'usage', message: err.message}}) + '\n')
        process.exitCode = 2
        return
      }
      ;(err as {oclif: {exit: number}}).oclif = {exit: 2}
      return super.catch(err)
    }
    if (err instanceof Errors.ExitError) throw err
    process.exitCode = renderError(err, this.jsonEnabled())
  }
}
