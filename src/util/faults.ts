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

/** Fault injection at write calls (issue: full disk): BURN_FAULT_ENOSPC=1 makes store writes fail. */
export function injectedWriteError(): NodeJS.ErrnoException | undefined {
  if (process.env.BURN_FAULT_ENOSPC !== '1') return undefined
  const err = new Error('ENOSPC: no space left on device (injected by BURN_FAULT_ENOSPC)') as NodeJS.ErrnoException
  err.code = 'ENOSPC'
  return err
}
