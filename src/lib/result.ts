/**
 * The script contract's serialization: JSON of the result, `undefined` -> null, and a clear
 * error naming the path of the first value JSON cannot hold (BigInt, function, symbol, cycle)
 * instead of JSON.stringify's silent drops or generic TypeError.
 */
export class SerializeError extends Error {
  constructor(message: string, readonly path: string) {
    super(message)
  }
}

export interface Unserializable {
  what: string
  path: string
}

export const notJsonError = (p: Unserializable) => new SerializeError(`result is not JSON: ${p.what} at ${p.path}`, p.path)

export function serializeResult(value: unknown): string {
  const problem = findUnserializable(value)
  if (problem) throw notJsonError(problem)
  return JSON.stringify(value) ?? 'null'
}

/**
 * The first value JSON cannot hold, with its path. Self-contained on purpose (it refers to no
 * module binding, only to standard globals): the quickjs engine runs this very function's
 * source inside its sandbox. `tooDeep` recognises the engine's stack-overflow error.
 */
export function findUnserializable(root: unknown, tooDeep = (e: unknown) => e instanceof RangeError): Unserializable | undefined {
  const ancestors: object[] = []
  const visit = (value: unknown, key: string, path: string): {what: string; path: string} | undefined => {
    if (value !== null && typeof value === 'object' && typeof (value as {toJSON?: unknown}).toJSON === 'function') {
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
              const p = visit((value as Record<string, unknown>)[k], k, `${path}${/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`}`)
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
    return visit(root, '', '$')
  } catch (error) {
    if (tooDeep(error)) return {what: 'nesting too deep to serialize', path: '$'}
    throw error
  }
}
