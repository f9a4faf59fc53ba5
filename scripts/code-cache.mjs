// `npm run build`, last step: the V8 code cache of dist/fast/fast-memo.cjs, which
// bin/cached-require.js loads. It is made after a real memo hit in a scratch store, so besides
// the bundle's top level it holds the functions a hit runs, already compiled. Made with node's
// default flags, as `burn` runs (V8 refuses a cache made under other flags).
import {spawnSync} from 'node:child_process'
import {mkdtempSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const {cachedRequire, cachePath, cacheFile} = createRequire(import.meta.url)('../bin/cached-require.js')
const BUNDLE = join(ROOT, 'dist', 'fast', 'fast-memo.cjs')
const HIT = ['tiny', '--input', '1', '--memo']

if (process.argv[2] === '--hit') {
  // (a child, whose stdout is not the build's: the hit prints its answer)
  const {exports, script, source} = cachedRequire(BUNDLE)
  const code = await exports.fastMemo(HIT)
  if (code !== 0) throw new Error(`the scratch store's memo call was not a hit (${code})`)
  const tmp = `${cachePath(BUNDLE)}.${process.pid}.tmp`
  writeFileSync(tmp, cacheFile(source, script.createCachedData()))
  renameSync(tmp, cachePath(BUNDLE))
} else {
  const dir = mkdtempSync(join(tmpdir(), 'burn-code-cache-'))
  try {
    const env = {...process.env, BURN_CACHE_DIR: join(dir, 'cache'), BURN_DAEMON: 'off'}
    const run = (args, stdout = 'pipe') => {
      const r = spawnSync(process.execPath, args, {env, stdio: ['ignore', stdout, 'pipe'], encoding: 'utf8'})
      if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
    }
    writeFileSync(join(dir, 'tiny.js'), 'module.exports = (x) => ({y: x})\n')
    const bin = join(ROOT, 'bin', 'run.js')
    run([bin, 'register', join(dir, 'tiny.js'), '--name', 'tiny'])
    run([bin, 'run', ...HIT])
    run([fileURLToPath(import.meta.url), '--hit'], 'ignore')
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
