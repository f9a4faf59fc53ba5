#!/usr/bin/env node
// `burn run` takes a fast path that does not load oclif (src/cli/fast-run.ts). Its child
// process is spawned first of all, so that the child's startup overlaps this one's.
const argv = process.argv.slice(2)
if (argv[0] === 'run' && !argv.includes('--help') && !argv.includes('-h')) {
  const {spawn} = await import('node:child_process')
  const child = spawn(process.execPath, [...process.execArgv, new URL('../dist/fast/run-child.cjs', import.meta.url).pathname, ...argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
  })
  const {fastRun} = await import('../dist/fast/fast-run.js')
  const code = await fastRun(argv.slice(1), child)
  if (code !== undefined) process.exit(code)
}
const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
