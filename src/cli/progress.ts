/** An ora spinner on stderr, only when stderr is a terminal (or forced); a no-op otherwise. */
export interface Progress {
  update(text: string): void
  stop(): void
}

export async function startProgress(text: string, opts: {force?: boolean; quiet?: boolean} = {}): Promise<Progress> {
  if (opts.quiet || !(opts.force || process.stderr.isTTY)) return {update() {}, stop() {}}
  const {default: ora} = await import('ora')
  const spinner = ora({text, stream: process.stderr, isEnabled: Boolean(process.stderr.isTTY)}).start()
  return {
    update: (t) => {
      spinner.text = t
    },
    stop: () => spinner.stop(),
  }
}
