#!/usr/bin/env node
// `burn run` and `burn batch` take fast paths that do not load oclif (src/run/fast-run.ts,
// src/batch/main.ts). run goes through the run daemon of its cache dir when there is one,
// and otherwise spawns its child before loading the supervisor; batch forks its runners as
// soon as its arguments are parsed.
const argv = process.argv.slice(2)
const help = argv.includes('--help') || argv.includes('-h')
let done = false
if (argv[0] === 'run' && !help) {
  // (a call that may be a memo hit loads only what answers one: src/run/fast-memo.ts)
  let made
  if (argv.some((a) => a === '--memo' || a.startsWith('--idempotency-key'))) {
    const {createRequire} = await import('node:module')
    made = await createRequire(import.meta.url)('../dist/fast/fast-memo.cjs').fastMemo(argv.slice(1))
    if (typeof made === 'number') process.exit(made)
  }
  const {fastRun} = await import('../dist/fast/fast-run.js')
  const code = await fastRun(argv.slice(1), made)
  if (code !== undefined) process.exit(code)
} else if (argv[0] === 'batch' && !help) {
  const {batchFastPath} = await import('../dist/fast/batch.js')
  done = await batchFastPath(argv.slice(1))
}
if (!done) {
  // the commands and @oclif/core bundled in one file (src/index.ts)
  const {execute} = await import('../dist/fast/oclif.js')
  await execute({dir: import.meta.url})
}
