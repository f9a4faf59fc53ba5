#!/usr/bin/env node
// `burn run` and `burn batch` take fast paths that do not load oclif (src/run/fast-run.ts,
// src/batch/main.ts). run goes through the run daemon of its cache dir when there is one,
// and otherwise spawns its child before loading the supervisor; batch forks its runners as
// soon as its arguments are parsed.
//
// This entry is CommonJS (bin/package.json): node starts a CommonJS main module without its ESM
// loader, so a `--memo` hit, answered from one CommonJS bundle loaded with its V8 code cache
// (cached-require.js), never starts that loader at all; nor do the run client and the oclif
// commands, each one CommonJS bundle loaded the same way. batch imports an ESM bundle, as fast
// from here as from an ESM entry (README.md, the `burn run --memo` figures).
'use strict'
const {join} = require('node:path')
const argv = process.argv.slice(2)
const help = argv.includes('--help') || argv.includes('-h')

/** The exports of a CommonJS bundle of dist/fast, loaded with its V8 code cache. */
const bundle = (name) => require('./cached-require.js').cachedRequire(join(__dirname, '../dist/fast', name)).exports

async function main() {
  if (argv[0] === 'run' && !help) {
    // (a call that may be a memo hit loads only what answers one: src/run/fast-memo.ts)
    let made
    if (argv.some((a) => a === '--memo' || a.startsWith('--idempotency-key'))) {
      made = await bundle('fast-memo.cjs').fastMemo(argv.slice(1))
      if (typeof made === 'number') process.exit(made)
    }
    const code = await bundle('fast-run.cjs').fastRun(argv.slice(1), made)
    if (code !== undefined) process.exit(code)
  } else if (argv[0] === 'batch' && !help) {
    const {batchFastPath} = await import('../dist/fast/batch.js')
    if (await batchFastPath(argv.slice(1))) return
  }
  // the commands and @oclif/core bundled in one CommonJS file (src/index.ts)
  // (the package's root, not bin/: bin/package.json only sets the module type)
  await bundle('oclif.cjs').execute({dir: join(__dirname, '..', 'package.json')})
}

void main()
