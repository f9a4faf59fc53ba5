import {readdir} from 'node:fs/promises'
import {BurnError, notFoundError, usageError} from '../util/errors.js'
import {FULL_HASH, HASH_PREFIX, isValidName} from './layout.js'
import {readName} from './names.js'
import {exists, type Store} from './store.js'

/**
 * `<script>` -> full hash. Order: a full hash, then a name, then a unique hex prefix of at
 * least 6 digits. Anything else is refused before it touches the filesystem, so an argument
 * can never name a path outside the store.
 */
export async function resolveScript(store: Store | undefined, ref: string): Promise<string> {
  const isHex = HASH_PREFIX.test(ref)
  const isName = isValidName(ref)
  if (!isHex && !isName) {
    throw usageError(
      `invalid script reference ${JSON.stringify(ref)}: expected a full hash, a unique prefix of at least 6 hex digits, ` +
        'or a name (to add a file, use `burn register <file>`)',
    )
  }
  if (!store) throw notFound(ref)
  const {layout} = store
  if (FULL_HASH.test(ref)) {
    if (await exists(layout.object(ref))) return ref
    throw notFound(ref)
  }
  if (isName) {
    const target = await readName(layout, ref)
    if (target !== undefined) {
      if (!(await exists(layout.object(target)))) {
        throw notFoundError(
          `name ${ref} points to ${target}, which is not in the store; register the script again or \`burn forget ${ref}\``,
          {name: ref, hash: target},
        )
      }
      return target
    }
  }
  if (isHex) {
    const names = await readdir(layout.objectShard(ref)).catch(() => [] as string[])
    const matches = names.filter((n) => FULL_HASH.test(n) && n.startsWith(ref)).sort()
    if (matches.length === 1) return matches[0]
    if (matches.length > 1) {
      throw notFoundError(
        `ambiguous prefix ${ref}: it matches ${matches.length} scripts:\n${matches.map((m) => `  ${m}`).join('\n')}\nuse more digits`,
        {candidates: matches},
      )
    }
  }
  throw notFound(ref)
}

function notFound(ref: string): BurnError {
  return notFoundError(
    `no script matches ${JSON.stringify(ref)}; \`burn list\` shows what is registered, \`burn register <file>\` adds one`,
    {ref},
  )
}
