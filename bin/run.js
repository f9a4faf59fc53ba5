#!/usr/bin/env node
// `burn run` takes a fast path that does not load oclif (see src/cli/fast-run.ts).
const argv = process.argv.slice(2)
if (argv[0] === 'run' && !argv.includes('--help') && !argv.includes('-h')) {
  const {fastRun} = await import('../dist/cli/fast-run.js')
  if (await fastRun(argv.slice(1))) process.exit(process.exitCode ?? 0)
}
const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
