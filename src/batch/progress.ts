import type {BatchProgress, BatchSummary} from './types.js'
import {startProgress} from '../cli/progress.js'

export interface BatchProgressView {
  update(p: BatchProgress): void
  stop(): void
}

const PLAIN_EVERY_MS = 2000

/**
 * Progress of `burn batch` on stderr: an ora spinner on a terminal; with --progress on a
 * non-terminal (a CI log), one plain line every 2 s instead of spinner frames; otherwise nothing.
 */
export async function startBatchProgress(opts: {force: boolean; quiet: boolean}): Promise<BatchProgressView> {
  if (opts.quiet) return {update() {}, stop() {}}
  // a terminal that reports no width (a bare pty) would make ora clear lines forever
  if (process.stderr.isTTY && process.stderr.columns > 0) {
    const spinner = await startProgress('batch: starting', {force: true})
    return {update: (p) => spinner.update(`batch: ${progressText(p)}`), stop: () => spinner.stop()}
  }
  if (!opts.force && !process.stderr.isTTY) return {update() {}, stop() {}}
  let last = performance.now()
  return {
    update(p) {
      const now = performance.now()
      if (now - last < PLAIN_EVERY_MS) return
      last = now
      process.stderr.write(`batch: ${progressText(p)}\n`)
    },
    stop() {},
  }
}

function progressText(p: BatchProgress): string {
  const s = p.elapsedMs / 1000
  const rate = Math.round(p.rowsIn / Math.max(s, 0.001)).toLocaleString('en-US')
  const failed = p.chunksFailed ? `, ${p.chunksFailed} chunks failed` : ''
  return `${p.rowsIn.toLocaleString('en-US')} rows done, ${rate} rows/s, ${s.toFixed(1)}s elapsed${failed}`
}

export function summaryLine(s: BatchSummary): string {
  const closed = s.outputClosed ? ' (stopped: the output was closed)' : ''
  const memo = s.rowsReused === undefined ? '' : `, ${s.rowsComputed} rows computed, ${s.rowsReused} rows reused`
  const seconds = (s.elapsedMs / 1000).toFixed(2)
  return `batch: ${s.rowsIn} rows in, ${s.rowsOut} rows out, ${s.chunksFailed} chunks failed${memo}, ${seconds}s${closed}`
}
