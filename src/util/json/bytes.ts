// The bytes of JSON's structure, for code that walks JSON text as bytes without parsing it
// (the batch input scanner, the --pretty indenter).
export const QUOTE = 0x22
export const BACKSLASH = 0x5c
export const COMMA = 0x2c
export const COLON = 0x3a
export const OPEN_BRACKET = 0x5b
export const CLOSE_BRACKET = 0x5d
export const OPEN_BRACE = 0x7b
export const CLOSE_BRACE = 0x7d
export const NEWLINE = 0x0a
