/**
 * The script contract's serialization: JSON of the result, `undefined` -> null, toJSON honoured
 * where JSON.stringify honours it (objects and functions), and a clear error naming the path of
 * the first value JSON cannot hold (BigInt, function, symbol, cycle, nesting too deep) instead
 * of JSON.stringify's silent drops or generic TypeError.
 */
export class SerializeError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message)
  }
}

export interface Unserializable {
  what: string
  path: string
}

export const notJsonError = (p: Unserializable) => new SerializeError(`result is not JSON: ${p.what} at ${p.path}`, p.path)

export function serializeResult(value: unknown): string {
  const r = checkedStringify(
    value,
    JSON.stringify,
    (v) => findUnserializable(v),
    bigIntToJSON(),
    (e) => e instanceof RangeError,
  )
  if (typeof r !== 'string') throw notJsonError(r)
  return r
}

/**
 * The elements of an array, each serialized as above, joined by `separator` (batch rows: '\n'
 * for NDJSON, ',' for the inside of a JSON array; JSON text never holds a raw newline). A bad
 * value is named by its path in the whole array, e.g. `$[3].when`.
 *
 * Batch's v8 rows, one small value at a time: there V8's stringify with a replacer costs ~2.5x
 * its plain one (1M rows: +25% wall for the whole batch), so each row gets the cheap pass below
 * and the plain stringify. Same rule, one difference: a getter that returns a function only on
 * its second read slips past the pass and is dropped as JSON.stringify drops it (user code that
 * runs during serialization; v8 runs trusted code only). quickjs batches serialize in the guest
 * with checkedStringify, as runs do.
 */
export function serializeElements(values: unknown[], separator = '\n'): string {
  let out = ''
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (suspicious(v, 1)) {
      const problem = findUnserializable(v, undefined, `$[${i}]`)
      if (problem) throw notJsonError(problem)
    }
    // as in a JSON array: undefined (and anything JSON.stringify omits) is null
    const text = JSON.stringify(v) ?? 'null'
    out = i === 0 ? text : out + separator + text
  }
  return out
}

const MAX_FAST_DEPTH = 256

/**
 * A cheap first pass (about 4x faster than the exact walk below, which builds a path for every
 * value): true when the value may hold something JSON.stringify drops or rejects (a function, a
 * symbol, a BigInt), a toJSON method, or nesting deep enough to be a cycle. Only then does the
 * exact walk run, so a clean value costs one light traversal plus JSON.stringify.
 */
function suspicious(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint'
  if (depth > MAX_FAST_DEPTH || typeof (v as {toJSON?: unknown}).toJSON === 'function') return true
  // Object.values over for-in + hasOwn: ~20% less on V8, for the same own enumerable values in
  // the same order.
  const values: unknown[] = Array.isArray(v) ? v : Object.values(v)
  for (let i = 0; i < values.length; i++) {
    const e = values[i]
    if (
      typeof e === 'object' && e !== null
        ? suspicious(e, depth + 1)
        : typeof e === 'function' || typeof e === 'symbol' || typeof e === 'bigint'
    )
      return true
  }
  return false
}

const bigIntToJSON = () => typeof (BigInt.prototype as {toJSON?: unknown}).toJSON === 'function'

/**
 * JSON text of a value under the contract's rule (`undefined` -> 'null'), or the first value
 * JSON cannot hold as named by `find` (findUnserializable).
 *
 * One native pass, no separate walk (on QuickJS a walk cost more than the stringify itself):
 * the replacer sees every value JSON.stringify is about to write, after any toJSON, and flags
 * the two it would drop silently (a function, a symbol); a BigInt, a cycle or nesting too deep
 * makes it throw. Only then does the exact walk run, to name the value and its path. What is
 * printed is always what a checked pass saw: a getter or toJSON that answers differently from
 * one read to the next can hide from the walk, and then the result is refused all the same.
 * `plainWhen`: errors of the checked pass on which a plain stringify decides (V8's stringify
 * nests less deep with a replacer than without); the quickjs guest gives none.
 *
 * JSON.stringify would call a toJSON given to BigInts, but a BigInt is never JSON here: with
 * one in place (`bigIntHasToJSON`) the exact walk goes first as well. (The quickjs prelude
 * makes BigInt.prototype.toJSON impossible to define in the first place.)
 *
 * Self-contained on purpose (it refers to no module binding, only to its arguments): the
 * quickjs engine runs this very function's source inside its sandbox, with builtins it
 * captured before the script ran.
 */
export function checkedStringify(
  value: unknown,
  stringify: typeof JSON.stringify,
  find: (v: unknown) => Unserializable | undefined,
  bigIntHasToJSON: boolean,
  plainWhen?: (e: unknown) => boolean,
): string | Unserializable {
  if (bigIntHasToJSON) {
    const problem = find(value)
    if (problem) return problem
  }
  const checked = (): {json: string | undefined; flagged: boolean} => {
    let flagged = false
    const json = stringify(value, (_key, v: unknown) => {
      if (typeof v === 'function' || typeof v === 'symbol') flagged = true
      return v
    })
    return {json, flagged}
  }
  let r: {json: string | undefined; flagged: boolean}
  try {
    r = checked()
  } catch {
    const problem = find(value)
    if (problem) return problem
    // Nothing to name (a getter or toJSON that threw only once): checked once more.
    try {
      r = checked()
    } catch (again) {
      if (!plainWhen?.(again)) throw again
      return stringify(value) ?? 'null'
    }
  }
  if (r.flagged) return find(value) ?? {what: 'a value that changed while it was serialized', path: '$'}
  return r.json ?? 'null'
}

/**
 * The first value JSON cannot hold, with its path (from `rootPath`). Self-contained on purpose
 * (it refers to no module binding, only to standard globals): the quickjs engine runs this very
 * function's source inside its sandbox. `tooDeep` recognises the engine's stack-overflow error.
 */
export function findUnserializable(
  root: unknown,
  tooDeep = (e: unknown) => e instanceof RangeError,
  rootPath = '$',
): Unserializable | undefined {
  const ancestors: object[] = []
  const visit = (value: unknown, key: string, path: string): {what: string; path: string} | undefined => {
    // As JSON.stringify: toJSON is looked up on objects and on functions (never on a BigInt:
    // checkedStringify walks first when BigInts have one).
    const t = typeof value
    if (((t === 'object' && value !== null) || t === 'function') && typeof (value as {toJSON?: unknown}).toJSON === 'function') {
      value = (value as {toJSON: (k: string) => unknown}).toJSON(key)
    }
    switch (typeof value) {
      case 'bigint':
        return {what: 'a BigInt', path}
      case 'function':
        return {what: 'a function', path}
      case 'symbol':
        return {what: 'a symbol', path}
      case 'undefined':
        return undefined // JSON's own rule: omitted in objects, null in arrays and at the top
      case 'object': {
        if (value === null) return undefined
        if (ancestors.includes(value)) return {what: 'a cycle', path}
        ancestors.push(value)
        try {
          if (Array.isArray(value)) {
            for (let i = 0; i < value.length; i++) {
              const p = visit(value[i], String(i), `${path}[${i}]`)
              if (p) return p
            }
          } else {
            for (const k of Object.keys(value)) {
              const p = visit(
                (value as Record<string, unknown>)[k],
                k,
                `${path}${/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`}`,
              )
              if (p) return p
            }
          }
        } finally {
          ancestors.pop()
        }
        return undefined
      }
      default:
        return undefined
    }
  }
  try {
    return visit(root, '', rootPath)
  } catch (error) {
    if (tooDeep(error)) return {what: 'nesting too deep to serialize', path: rootPath}
    throw error
  }
}
