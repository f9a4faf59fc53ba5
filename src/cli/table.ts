import type {StepTiming} from '../util/steps.js'
import {scaleBytes} from '../util/units.js'

/** A cli-table3 table for human summaries (loaded only when a table is printed). */
export async function renderTable(head: string[], rows: Array<Array<string | number>>): Promise<string> {
  const {default: Table} = await import('cli-table3')
  const t = new Table({head, style: {head: process.stdout.isTTY ? ['cyan'] : [], border: process.stdout.isTTY ? ['grey'] : []}})
  for (const r of rows) t.push(r.map(String))
  return t.toString()
}

/** A size for tables: one decimal and a space, e.g. 1.5 MiB, 25 B. */
export function humanBytes(n: number): string {
  const s = scaleBytes(n)
  return s ? `${s.value.toFixed(1)} ${s.unit}` : `${n} B`
}

/** `--timings`: each step of verify or gc with its time, in the order they ran. */
export async function renderStepTimings(steps: StepTiming[]): Promise<string> {
  return renderTable(
    ['step', 'ms'],
    steps.map((s) => [s.step, s.ms.toFixed(1)]),
  )
}
