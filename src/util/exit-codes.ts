// The one exit-code table (README, "Exit codes"); every command maps library errors through it.
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  notFound: 3,
  compile: 4,
  scriptError: 5,
  limit: 6,
  badData: 7,
  store: 8,
} as const

export type ExitKind = keyof typeof EXIT
