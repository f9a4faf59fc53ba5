// Part of `npm run lint`: no folder of src/ holds more than 15 modules side by side
// (docs/architecture.md, "Layers and the dependency rule"). A folder that grows past it wants
// a subfolder named for what the modules share.
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

const MAX = 15
let bad = 0
function visit(dir) {
  const entries = readdirSync(dir, {withFileTypes: true})
  const modules = entries.filter((e) => e.isFile() && e.name.endsWith('.ts'))
  if (modules.length > MAX) {
    console.error(`${dir}: ${modules.length} modules side by side (at most ${MAX})`)
    bad++
  }
  for (const e of entries) if (e.isDirectory()) visit(join(dir, e.name))
}
visit('src')
if (bad > 0) process.exit(1)
