/**
 * Named fault points for crash tests: when BURN_FAULT names a point, the process kills itself
 * with SIGKILL there, exactly like an OOM killer or a CI job timeout would. Off by default;
 * the cost when off is one string comparison.
 */
const armed = process.env.BURN_FAULT

export function faultPoint(name: string): void {
  if (armed === undefined) return
  if (armed === name) process.kill(process.pid, 'SIGKILL')
  // `<point>:throw` raises an unexpected error there instead: how tests reach exit 1 (a bug).
  if (armed === `${name}:throw`) throw new Error(`injected internal error at ${name}`)
  // `<point>:stop` stops the process there (SIGSTOP) until a test has raced it and sends SIGCONT.
  if (armed === `${name}:stop`) process.kill(process.pid, 'SIGSTOP')
}

/**
 * Fault injection at writes (a full disk). BURN_FAULT_ENOSPC=1 arms every write of a store file,
 * a lock file and a batch `--output`; a comma-separated list arms only the writes of those labels
 * (writeAtomic's labels such as `object`, `compiled`, `name`, `engines`, `stats`; `lock`;
 * `output`). An armed write puts down the first half of its `length` bytes (`after`) and then
 * fails with `error`, as a disk that fills up mid-write does: the partial file is real, so its
 * clean-up is what the tests check, not an error thrown before any I/O.
 */
export function injectedWriteError(label: string, length: number): {after: number; error: NodeJS.ErrnoException} | undefined {
  const armed = process.env.BURN_FAULT_ENOSPC
  if (armed === undefined || (armed !== '1' && !armed.split(',').includes(label))) return undefined
  const error = new Error('ENOSPC: no space left on device (injected by BURN_FAULT_ENOSPC)') as NodeJS.ErrnoException
  error.code = 'ENOSPC'
  return {after: Math.floor(length / 2), error}
}
