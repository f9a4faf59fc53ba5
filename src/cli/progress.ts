/** An ora spinner on stderr, only when stderr is a terminal (or forced); a no-op otherwise. */
export interface Progress {
  update(text: string): void
  stop(): void
}

export async function startProgress(text: string, opts: {force?: boolean; quiet?: boolean} = {}): Promise<Progress> {
  // A terminal that reports 0 columns (a pty nobody sized, e.g. `script` without a terminal)
  // sends ora's line clearing into an endless loop: no spinner there.
  if (opts.quiet || !(opts.force || process.stderr.isTTY) || process.stderr.columns === 0) return {update() {}, stop() {}}
  const {default: ora} = await import('ora')
  const spinner = ora({text, stream: process.stderr, isEnabled: Boolean(process.stderr.isTTY)}).start()
  return {
    update: (t) => {
      spinner.text = t
    },
    stop: () => spinner.stop(),
  }
}
