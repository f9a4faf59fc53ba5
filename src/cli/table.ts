/** A cli-table3 table for human summaries (loaded only when a table is printed). */
export async function renderTable(head: string[], rows: Array<Array<string | number>>): Promise<string> {
  const {default: Table} = await import('cli-table3')
  const t = new Table({head, style: {head: process.stdout.isTTY ? ['cyan'] : [], border: process.stdout.isTTY ? ['grey'] : []}})
  for (const r of rows) t.push(r.map(String))
  return t.toString()
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(1)} ${units[i]}`
}
