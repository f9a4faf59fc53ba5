// Loads a CommonJS bundle of dist/fast with the V8 code cache `npm run build` made for it
// (scripts/code-cache.mjs): V8 then neither parses the bundle nor compiles the functions the
// cache holds, which a short-lived process otherwise pays for on every start. The cache file
// holds the exact bytes it was made from, and is used only when they are the bundle's bytes
// now (V8's own check compares lengths, not contents; a byte compare costs microseconds, where
// hashing would load node:crypto, ~6 ms). V8 refuses a cache of another Node version or other
// flags itself (script.cachedDataRejected). Either way the bundle is then compiled as usual.
'use strict'
const {readFileSync} = require('node:fs')
const Module = require('node:module')
const {dirname} = require('node:path')
const {Script} = require('node:vm')

/** The cache file of `file`. */
const cachePath = (file) => `${file}.v8cache`

/** A cache file's bytes: the source's length (4 bytes), the source, then V8's data. */
function cacheFile(source, data) {
  const head = Buffer.alloc(4)
  head.writeUInt32LE(source.length)
  return Buffer.concat([head, source, data])
}

/** V8's data in `cache`, if it was made from exactly `source`. */
function dataFor(cache, source) {
  if (cache.length < 4) return undefined
  const n = cache.readUInt32LE(0)
  return n === source.length && cache.length > 4 + n && cache.subarray(4, 4 + n).equals(source) ? cache.subarray(4 + n) : undefined
}

// Code compiled by vm.Script cannot call import() on Node 20: the bundles call this one instead
// (scripts/bundle.mjs rewrites their import() calls to it).
globalThis[Symbol.for('burn.import')] ??= (specifier) => import(specifier)

/** `require(file)`, with the file's V8 code cache; a later require(file) gets the same module. */
function cachedRequire(file) {
  const source = readFileSync(file)
  let cachedData
  try {
    cachedData = dataFor(readFileSync(cachePath(file)), source)
  } catch {
    // no cache (a build that made none): compile as usual
  }
  const script = new Script(Module.wrap(source.toString('utf8')), {filename: file, cachedData})
  const module = new Module(file)
  module.filename = file
  module.paths = Module._nodeModulePaths(dirname(file))
  Module._cache[file] = module
  try {
    script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, dirname(file))
  } catch (error) {
    delete Module._cache[file]
    throw error
  }
  module.loaded = true
  return {exports: module.exports, script, source}
}

module.exports = {cachedRequire, cachePath, cacheFile}
