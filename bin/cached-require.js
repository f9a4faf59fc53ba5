// Loads a CommonJS bundle of dist/fast with the V8 code cache `npm run build` made for it
// (scripts/code-cache.mjs): V8 then neither parses the bundle nor compiles the functions the
// cache holds, which a short-lived process otherwise pays for on every start. The cache is
// used only when the sha256 it was made for is the bundle's own (V8's own check compares
// lengths, not contents), and V8 refuses one of another version or other flags itself
// (script.cachedDataRejected): either way the bundle is compiled as usual, only slower.
'use strict'
const {readFileSync} = require('node:fs')
const Module = require('node:module')
const {dirname} = require('node:path')
const {Script} = require('node:vm')

const HASH_BYTES = 32

/** The cache file of `file`: the sha256 of the source it was made from, then V8's data. */
const cachePath = (file) => `${file}.v8cache`

function cachedRequire(file) {
  const source = readFileSync(file, 'utf8')
  const digest = require('node:crypto').createHash('sha256').update(source).digest()
  let cachedData
  try {
    const c = readFileSync(cachePath(file))
    if (c.length > HASH_BYTES && c.subarray(0, HASH_BYTES).equals(digest)) cachedData = c.subarray(HASH_BYTES)
  } catch {
    // no cache (a build that made none): compile as usual
  }
  const script = new Script(Module.wrap(source), {filename: file, cachedData})
  const module = {exports: {}}
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, dirname(file))
  return {exports: module.exports, script, digest}
}

module.exports = {cachedRequire, cachePath, HASH_BYTES}
