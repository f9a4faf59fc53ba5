import {availableParallelism} from 'node:os'
import {usageError} from './errors.js'

/**
 * --concurrency of batch and register: runner processes at once, one CPU each by default. At
 * most 4 per CPU: past that, runners only add memory (tens of MB each) and context switches,
 * and `--concurrency 1000` once started 1000 processes for 3 rows.
 */
export const MAX_RUNNERS_PER_CPU = 4

export function parseConcurrency(value: number | undefined): number {
  const cpus = availableParallelism()
  if (value === undefined) return cpus
  const max = MAX_RUNNERS_PER_CPU * cpus
  if (value > max)
    throw usageError(`invalid --concurrency ${value}: at most ${max} (${MAX_RUNNERS_PER_CPU} runner processes per CPU, ${cpus} CPUs here)`)
  return value
}
