// npm run bench: every side-by-side benchmark in turn (each prints its own table and ratios).
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

for (const b of ['run.mjs', 'warm.mjs', 'limits.mjs', 'batch.mjs', 'batch-memo.mjs', 'maintenance.mjs']) {
  console.log(`\n=== bench/${b}`)
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(b, import.meta.url))], {stdio: 'inherit'})
  if (r.status !== 0) process.exitCode = 1
}
