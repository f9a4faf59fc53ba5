import {badDataError} from '../errors.js'
import {BACKSLASH, CLOSE_BRACE, CLOSE_BRACKET, COMMA, NEWLINE, OPEN_BRACE, OPEN_BRACKET, QUOTE} from './bytes.js'

/*
 * Finds the elements of a top-level JSON array in a byte stream without parsing them: only
 * strings (with escapes) and bracket depth are tracked, so the cost is one pass over the bytes
 * and the element texts go to the runners verbatim (they JSON.parse them, and report an invalid
 * element as a row error). stream-json builds every value as tokens and
 * took 8.7 s for a 1M-row, 77 MB array on the project machine, more than five times the whole
 * plain-Node job; this scanner takes about 0.1-0.2 s. Only the array's own structure (the
 * brackets, the commas between elements, what follows the closing bracket) is checked here:
 * such an error cannot be resynchronized, so it ends the batch (exit 7) under every --on-error.
 */

// Byte classes of the hot loop: 1 marks the bytes that need a look.
const IN_STRING = new Uint8Array(256)
IN_STRING[QUOTE] = IN_STRING[BACKSLASH] = 1
const STRUCTURAL = new Uint8Array(256)
for (const b of [QUOTE, COMMA, OPEN_BRACKET, CLOSE_BRACKET, OPEN_BRACE, CLOSE_BRACE, NEWLINE]) STRUCTURAL[b] = 1

export const isBlankByte = (b: number) => b === 0x20 || b === NEWLINE || b === 0x0d || b === 0x09

const enum State {
  Before,
  FirstOrEnd,
  Value,
  Element,
  After,
}

export interface ScanEvents {
  /** An element starts at byte `offset` of the buffer being scanned, on line `line`. */
  start(offset: number, line: number): void
  /** The element that started last ends just before byte `offset`; `last` when the array closes there. */
  end(offset: number, last: boolean): void
}

/**
 * A push scanner: `scan(buf)` reports where elements start and end in `buf`, in order; an
 * element may start in one buffer and end in a later one (the caller keeps its bytes).
 */
export class JsonArrayScanner {
  private state = State.Before
  private depth = 0
  private inString = false
  private escaped = false
  /** 1-based line of the byte being scanned (valid JSON has no raw newline inside a string). */
  line = 1
  /** Elements seen so far. */
  count = 0
  closed = false

  constructor(private readonly events: ScanEvents) {}

  scan(buf: Uint8Array): void {
    // The hot loop works on locals (about 3x faster than on fields); they are saved on exit.
    // It stays inline: as a method called once per element it took 1.7x the CPU time (1M
    // elements, 80 MB). Only the bytes between elements go to structure().
    let i = 0
    const n = buf.length
    let depth = this.depth
    let inString = this.inString
    let escaped = this.escaped
    let line = this.line
    try {
      while (i < n) {
        if (this.state === State.Element) {
          // inside an element: only strings and bracket depth matter until a comma or ']' at depth 0
          for (; i < n; i++) {
            const b = buf[i]
            if (inString) {
              if (escaped) escaped = false
              else if (IN_STRING[b] === 0) continue
              else if (b === BACKSLASH) escaped = true
              else inString = false
              continue
            }
            if (STRUCTURAL[b] === 0) continue
            if (b === QUOTE) inString = true
            else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++
            else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
              if (depth > 0) depth--
              // a '}' at depth 0 stays in the element: the runner reports it as invalid JSON
              else if (b === CLOSE_BRACKET) break
            } else if (b === COMMA) {
              if (depth === 0) break
            } else line++ // NEWLINE
          }
          if (i < n) {
            this.line = line
            this.endElement(i, buf[i] === CLOSE_BRACKET)
            i++
          }
          continue
        }
        const b = buf[i]
        if (b === NEWLINE) line++
        // an element starts at this byte: the loop above takes it
        else if (!isBlankByte(b) && this.structure(b, i, line)) continue
        i++
      }
    } finally {
      this.depth = depth
      this.inString = inString
      this.escaped = escaped
      this.line = line
    }
  }

  /** At the end of the input: an array that never closed is an error. */
  finish(): void {
    if (this.state === State.Before) throw badDataError('input must be a JSON array; the input is empty')
    if (this.closed) return
    const where = `line ${this.line}${this.inString ? ' inside a string' : ''}`
    const row = this.count + (this.state === State.Element ? 1 : 0)
    throw badDataError(`the JSON array is not closed: the input ends at ${where} (row ${row})`, {line: this.line})
  }

  private endElement(end: number, last: boolean): void {
    this.state = last ? State.After : State.Value
    if (last) this.closed = true
    this.count++
    this.events.end(end, last)
  }

  /** One byte of the array's structure, at offset `i`; true when it starts an element. */
  private structure(b: number, i: number, line: number): boolean {
    switch (this.state) {
      case State.Before:
        if (b !== OPEN_BRACKET) throw notAnArray(b, line)
        this.state = State.FirstOrEnd
        return false
      case State.FirstOrEnd:
        if (b === CLOSE_BRACKET) {
          this.state = State.After
          this.closed = true
          return false
        }
      // falls through: the first element
      case State.Value:
        if (b === COMMA || b === CLOSE_BRACKET) throw missingValue(b, line, this.count + 1)
        // (the depth is 0: the element before ended at depth 0)
        this.state = State.Element
        this.events.start(i, line)
        return true
      case State.After:
        throw trailingData(line)
    }
    return true // State.Element: not reached, scan() keeps an element's bytes to itself
  }
}

const notAnArray = (b: number, line: number) =>
  badDataError(`input must be a JSON array; it starts with ${describeByte(b)} at line ${line}`, {line})

const missingValue = (b: number, line: number, row: number) =>
  badDataError(`invalid JSON array at line ${line}: expected a value before ${describeByte(b)} (row ${row})`, {line, row})

const trailingData = (line: number) =>
  badDataError(
    `unexpected data after the JSON array at line ${line}; ` + 'if the input is NDJSON whose rows are arrays, pass --input-format ndjson',
    {line},
  )

function describeByte(b: number): string {
  return b >= 0x20 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16).padStart(2, '0')}`
}

/** The element texts of a complete JSON array text (a runner's error path only). */
export function splitArrayText(text: string): Array<{text: string; line: number}> {
  const buf = Buffer.from(text)
  const out: Array<{text: string; line: number}> = []
  let start = 0
  let line = 1
  const scanner = new JsonArrayScanner({
    start: (offset, l) => {
      start = offset
      line = l
    },
    end: (offset) => out.push({text: buf.subarray(start, offset).toString('utf8'), line}),
  })
  try {
    scanner.scan(buf)
  } catch {
    // the elements before a structural error are still useful to find the first bad one
  }
  return out
}
