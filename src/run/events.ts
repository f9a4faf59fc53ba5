/*
 * What a run child (child.ts) tells its supervisor (supervisor.ts, in `burn run` or in the run
 * daemon) on file descriptor 3, as it happens: one line per event, latin1, a letter and its
 * numbers. Not the run daemon's frames (daemon/frames.ts), whose letters mean other things.
 */

/** The descriptor a run child writes its events to. */
export const EVENTS_FD = 3

export type RunEvent =
  /** the argument resolved to this script (`h <engine> <hash>`) */
  | {kind: 'resolved'; engine: string; hash: string}
  /**
   * the script starts: its deadline and memory baseline start here (`s`); or, when its module
   * body ran ahead (engines/warm.ts), they started that long before, from that resident memory
   * (`s <bodyMs> <baselineBytes>`)
   */
  | {kind: 'started'; warm?: {bodyMs: number; baselineBytes: number}}
  /** a pooled runner starts a module body ahead of its call, from this resident memory (`b <bytes>`) */
  | {kind: 'body'; baselineBytes: number}
  /** that body is over (`B 1`: its instance can serve the call; `B 0`: not, or no body ran) */
  | {kind: 'body-end'; clean: boolean}
  /** the script ended; what follows is burn's printing and bookkeeping (`e`) */
  | {kind: 'ended'}
  /** stdout is written next, from its byte `stdoutAt`, after `stderrBytes` bytes of stderr (`o <err> <out>`) */
  | {kind: 'stdout-next'; stderrBytes: number; stdoutAt: number}
  /** the call is over with this exit code; the child only tears down after it (`x <code>`) */
  | {kind: 'exit'; code: number}
  /** the shared remote cache failed, why (its words URI-encoded: one word of ASCII): the run daemon cools down (`r <why>`) */
  | {kind: 'remote-failed'; why: string}

function line(e: RunEvent): string {
  switch (e.kind) {
    case 'resolved':
      return `h ${e.engine} ${e.hash}\n`
    case 'started':
      return e.warm ? `s ${e.warm.bodyMs} ${e.warm.baselineBytes}\n` : 's\n'
    case 'body':
      return `b ${e.baselineBytes}\n`
    case 'body-end':
      return `B ${e.clean ? 1 : 0}\n`
    case 'ended':
      return 'e\n'
    case 'stdout-next':
      return `o ${e.stderrBytes} ${e.stdoutAt}\n`
    case 'exit':
      return `x ${e.code}\n`
    case 'remote-failed':
      return `r ${encodeURIComponent(e.why)}\n`
  }
}

/** The events as written in one go (one write, so none can be read alone before the others). */
export const encodeEvents = (...events: RunEvent[]): string => events.map(line).join('')

function decode(text: string): RunEvent | undefined {
  const [letter, a, b] = text.split(' ')
  if (letter === 'h') return {kind: 'resolved', engine: a, hash: b}
  if (letter === 's') return a === undefined ? {kind: 'started'} : {kind: 'started', warm: {bodyMs: Number(a), baselineBytes: Number(b)}}
  if (letter === 'b') return {kind: 'body', baselineBytes: Number(a)}
  if (letter === 'B') return {kind: 'body-end', clean: a === '1'}
  if (letter === 'e') return {kind: 'ended'}
  if (letter === 'o') return {kind: 'stdout-next', stderrBytes: Number(a), stdoutAt: Number(b)}
  if (letter === 'x') return {kind: 'exit', code: Number(a)}
  if (letter === 'r') return {kind: 'remote-failed', why: safeDecode(a ?? '')}
  return undefined
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Splits the descriptor's byte stream back into events (lines cut anywhere are joined first). */
export class RunEventReader {
  private pending = ''

  push(chunk: Buffer): RunEvent[] {
    const lines = (this.pending + chunk.toString('latin1')).split('\n')
    this.pending = lines.pop()!
    return lines.map(decode).filter((e) => e !== undefined)
  }
}
