#!/usr/bin/env node
// `burn run` takes a fast path that does not load oclif (src/cli/fast-run.ts).
const argv = process.argv.slice(2)
if (argv[0] === 'run' && !argv.includes('--help') && !argv.includes('-h')) {
  const {fastRun} = await import('../dist/fast/fast-run.js')
  const code = await fastRun(argv.slice(1))
  if (code !== undefined) process.exit(code)
}
const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
