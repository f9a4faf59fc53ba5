// Bundles the startup-critical entry points (the `burn run` and `burn batch` fast paths and the
// runner process) into single files: loading ~25 small ESM modules costs more than the work of
// a cached run. Everything else stays as tsc emits it.
import {writeFileSync} from 'node:fs'
import {build} from 'esbuild'

// The remote cache's client is imported lazily, only when a local miss asks the remote, from a
// bundle of its own beside these (below): node-redis is ~500 small CommonJS files, which took
// ~145 ms to import, against ~80 ms as one file. The unbundled code (tsc's dist/, used by the
// oclif commands and the API) imports the package itself.
const redisBeside = {
  name: 'redis-beside',
  setup(b) {
    b.onResolve({filter: /^@redis\/client$/}, () => ({path: './redis-client.cjs', external: true}))
  },
}
const common = {bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning', plugins: [redisBeside]}
await build({
  ...common,
  format: 'cjs',
  plugins: [],
  entryPoints: ['node_modules/@redis/client/dist/index.js'],
  outfile: 'dist/fast/redis-client.cjs',
  // (optional peers node-redis asks for only when a feature that needs them is used)
  external: ['@node-rs/xxhash', '@opentelemetry/api'],
})
// a `--memo` call's first step, on its own: a hit needs none of the daemon client's modules
// (import.meta.url: util/hash.ts loads node:crypto only for large inputs, through createRequire)
await build({
  ...common,
  format: 'cjs',
  entryPoints: ['dist/run/fast-memo.js'],
  outfile: 'dist/fast/fast-memo.cjs',
  define: {'import.meta.url': 'importMetaUrl'},
  banner: {js: 'const importMetaUrl = require("node:url").pathToFileURL(__filename).href;'},
})
await build({
  ...common,
  entryPoints: ['dist/run/daemon/server.js'],
  outfile: 'dist/fast/daemon.js',
  external: ['quickjs-emscripten', '@jitl/*'],
})
// batch forks its runners from here: they are the bundled runner-main.js beside it
await build({...common, entryPoints: ['dist/batch/main.js'], outfile: 'dist/fast/batch.js', external: ['ora']})
await build({
  ...common,
  entryPoints: ['dist/runners/runner-main.js'],
  outdir: 'dist/fast',
  splitting: true,
  external: ['quickjs-emscripten', '@jitl/*'],
})
// CommonJS starts faster than ESM; the run child is the one process on the hot path of every run.
// import.meta.url (the quickjs engine resolves its wasm file from it) is this file's URL there.
await build({
  ...common,
  format: 'cjs',
  entryPoints: ['dist/run/child.js'],
  outfile: 'dist/fast/run-child.cjs',
  external: ['quickjs-emscripten', '@jitl/*'],
  define: {'import.meta.url': 'importMetaUrl'},
  banner: {js: 'const importMetaUrl = require("node:url").pathToFileURL(__filename).href;'},
})
// Code compiled by vm.Script cannot call import() on Node 20 (a callback needs
// --experimental-vm-modules), so the import() calls of the bundles bin/cached-require.js loads
// (oclif loading plugins by URL, lazily loaded packages) are rewritten to __burnImport, which
// calls the import() of bin/cached-require.js, or its own when the bundle is required as usual
// (oclif's tooling does). A relative specifier is taken from the bundle's directory.
const CACHED_BANNER = [
  '"use strict";',
  'const importMetaUrl = require("node:url").pathToFileURL(__filename).href;',
  'const __burnDir = __dirname;',
  'const __burnImport = (s) => {',
  '  const url = s.startsWith(".") ? require("node:url").pathToFileURL(require("node:path").join(__burnDir, s)).href : s;',
  '  const viaLoader = globalThis[Symbol.for("burn.import")];',
  '  return viaLoader ? viaLoader(url) : import(url);',
  '};',
]
// an import( that is code, not inside a string or a longer name
const IMPORT_CALL = /(?<![\w$.'"`])import\(/g

/** One CommonJS bundle for bin/cached-require.js (scripts/code-cache.mjs makes its code cache). */
async function cachedBundle(entry, outfile, {banner = [], ...options} = {}) {
  const built = await build({
    ...common,
    ...options,
    format: 'cjs',
    entryPoints: [entry],
    outfile,
    write: false,
    define: {'import.meta.url': 'importMetaUrl'},
  })
  const [out] = built.outputFiles
  writeFileSync(out.path, `${[...CACHED_BANNER, ...banner].join('\n')}\n${out.text.replace(IMPORT_CALL, '__burnImport(')}`)
  return out.text.match(IMPORT_CALL)?.length ?? 0
}

// The run client, one CommonJS file loaded with its code cache: the client of a call through the
// run daemon 88 -> 78 ms of CPU (README.md, "Performance"). The direct path's supervisor is
// inside, initialized only when a call runs directly (after its child was spawned).
await cachedBundle('dist/run/fast-run.js', 'dist/fast/fast-run.cjs')

// The oclif commands and @oclif/core in one CommonJS file, loaded the same way (~30 ms less CPU
// on every command, `burn stats --json` 220 -> 190 ms): package.json's `oclif.commands` names it
// (explicit discovery), and oclif's own require() of it gets that instance. @oclif/core reads its
// own package.json beside its lib/ (__dirname): that is where it is installed.
const oclifImports = await cachedBundle('dist/index.js', 'dist/fast/oclif.cjs', {
  // (verify and gc name their steps by their functions' names)
  keepNames: true,
  external: ['typescript', 'ts-node', 'tsx', 'quickjs-emscripten', '@jitl/*', 'ora'],
  banner: ["var __dirname = require('node:path').join(require('node:path').dirname(require.resolve('@oclif/core/package.json')), 'lib');"],
})
if (oclifImports === 0) throw new Error('scripts/bundle.mjs: no import() found in the oclif bundle: is IMPORT_CALL still right?')
