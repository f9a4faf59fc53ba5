import {toConfiguredId, type Hook} from '@oclif/core'
import pluginNotFound from '@oclif/plugin-not-found'

/** The exit code of every usage error (README, "Exit codes"); oclif's own "command not found" was 2 too. */
const USAGE = 2

/**
 * `burn regster`: an unknown command is a usage error, exit 2 (@oclif/plugin-not-found would exit 127).
 * On a terminal the plugin's own hook asks "Did you mean register?" and runs it when told yes; off a
 * terminal (scripts, CI) it would ask nothing and name no suggestion, so the suggestion is printed here.
 */
const hook: Hook.CommandNotFound = async function (opts) {
  if (process.stdin.isTTY === true) {
    try {
      return await pluginNotFound.call(this, opts)
    } catch (error) {
      const oclif = (error as {oclif?: {exit?: number}}).oclif
      if (oclif?.exit === 127) oclif.exit = USAGE
      throw error
    }
  }
  const hidden = new Set(opts.config.commands.filter((c) => c.hidden).map((c) => c.id))
  const ids = [...opts.config.commandIDs, ...opts.config.commands.flatMap((c) => c.aliases)].filter((id) => !hidden.has(id))
  const suggestion = closest(opts.id, ids)
  this.warn(`${toConfiguredId(opts.id, opts.config)} is not a ${opts.config.bin} command.`)
  const didYouMean = suggestion === undefined ? '' : `Did you mean ${toConfiguredId(suggestion, opts.config)}? `
  // as the plugin does: `burn daemon stat` points at `burn help daemon`
  const topic = opts.config.findTopic(opts.id.split(':')[0]) ? ` ${opts.id.split(':')[0]}` : ''
  this.error(`${didYouMean}Run ${opts.config.bin} help${topic} for the list of commands.`, {exit: USAGE})
}

export default hook

/** The id nearest by edit distance, first in order on ties, as the plugin picks it (its own helper is not exported). */
export function closest(target: string, ids: string[]): string | undefined {
  let best: {id: string; d: number} | undefined
  for (const id of ids) {
    const d = editDistance(target, id)
    if (best === undefined || d < best.d) best = {id, d}
  }
  return best?.id
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]
}
