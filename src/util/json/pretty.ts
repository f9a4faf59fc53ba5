import {BurnError} from '../errors.js'
import {BACKSLASH, CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, OPEN_BRACE, OPEN_BRACKET, QUOTE} from './bytes.js'

/**
 * `--pretty`: compact JSON text (as JSON.stringify writes it: no whitespace) indented by two
 * spaces, the same text as JSON.stringify(JSON.parse(json), null, 2), under --max-output. The
 * indentation grows with the depth, so a result of a few KB nested thousands deep would be tens
 * of MB pretty: the text is built piece by piece and refused (max-output, exit 6) as soon as it
 * passes the limit. One pass over the text, no recursion: any depth the engine serialized prints.
 */
export function prettyJson(json: string, maxBytes: number): string {
  const pieces: string[] = []
  // The compact text's bytes, plus every byte of whitespace added so far.
  let bytes = Buffer.byteLength(json)
  let depth = 0
  let from = 0
  const add = (added: number) => {
    bytes += added
    if (bytes > maxBytes)
      throw new BurnError('limit', `result is at least ${bytes} bytes with --pretty, over --max-output ${maxBytes} bytes`, {
        limit: 'max-output',
      })
  }
  const newline = (to: number, end: number) => {
    pieces.push(json.slice(from, end))
    from = end
    const indent = '\n' + '  '.repeat(to)
    add(indent.length)
    pieces.push(indent)
  }
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (c === QUOTE) {
      i = stringEnd(json, i)
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const next = json.charCodeAt(i + 1)
      if (next === CLOSE_BRACE || next === CLOSE_BRACKET)
        i++ // `{}` and `[]` stay as they are
      else newline(++depth, i + 1)
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      newline(--depth, i)
    } else if (c === COMMA) {
      newline(depth, i + 1)
    } else if (c === COLON) {
      pieces.push(json.slice(from, i + 1))
      from = i + 1
      add(1)
      pieces.push(' ')
    }
  }
  pieces.push(json.slice(from))
  return pieces.join('')
}

/** The index of the quote that closes the string opening at `start`. */
function stringEnd(json: string, start: number): number {
  for (let i = json.indexOf('"', start + 1); i !== -1; i = json.indexOf('"', i + 1)) {
    let backslashes = 0
    while (json.charCodeAt(i - 1 - backslashes) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return i
  }
  return json.length
}
