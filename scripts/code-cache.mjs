// `npm run build`, last step: the V8 code caches of dist/fast/fast-memo.cjs, fast-run.cjs and
// oclif.cjs, which bin/cached-require.js loads. Each is made after real work in a scratch store (a
// memo hit; a call through the run daemon; `burn list`), so besides the bundle's top level it holds
// the functions that work ran, already compiled. Made with node's default flags, as `burn` runs
// (V8 refuses a cache made under other flags).
import {spawnSync} from 'node:child_process'
import {mkdtempSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const {cachedRequire, cachePath, cacheFile} = createRequire(import.meta.url)('../bin/cached-require.js')
const MEMO = join(ROOT, 'dist', 'fast', 'fast-memo.cjs')
const OCLIF = join(ROOT, 'dist', 'fast', 'oclif.cjs')
const RUN = join(ROOT, 'dist', 'fast', 'fast-run.cjs')
const HIT = ['tiny', '--input', '1', '--memo']

/** Writes the code cache of `bundle` as it is after the work done so far. */
function save(bundle, {script, source}) {
  const tmp = `${cachePath(bundle)}.${process.pid}.tmp`
  writeFileSync(tmp, cacheFile(source, script.createCachedData()))
  renameSync(tmp, cachePath(bundle))
}

// (children, whose stdout is not the build's: the hit and the list print their answers)
if (process.argv[2] === '--hit') {
  const loaded = cachedRequire(MEMO)
  const code = await loaded.exports.fastMemo(HIT)
  if (code !== 0) throw new Error(`the scratch store's memo call was not a hit (${code})`)
  save(MEMO, loaded)
} else if (process.argv[2] === '--run') {
  // (BURN_DAEMON=require: the call waits for the run daemon it starts, and the cache holds the daemon client's functions)
  const loaded = cachedRequire(RUN)
  let code = await loaded.exports.fastRun(['tiny', '--input', '1'])
  if (code !== 0) {
    // A daemon that did not come up in time (a very loaded machine) costs the cache some of a
    // daemon call's functions, which then compile when first used; it does not fail the build.
    process.stderr.write(`code-cache.mjs: the run client's code cache is made after a direct run (through a run daemon: exit ${code})\n`)
    process.env.BURN_DAEMON = 'off'
    code = await loaded.exports.fastRun(['tiny', '--input', '1'])
  }
  if (code !== 0) throw new Error(`burn run in the scratch store exited ${code}`)
  save(RUN, loaded)
} else if (process.argv[2] === '--list') {
  const loaded = cachedRequire(OCLIF)
  await loaded.exports.execute({dir: join(ROOT, 'package.json'), args: ['list', '--json']})
  if (process.exitCode) throw new Error(`burn list in the scratch store exited ${process.exitCode}`)
  save(OCLIF, loaded)
} else {
  const dir = mkdtempSync(join(tmpdir(), 'burn-code-cache-'))
  try {
    const env = {...process.env, BURN_CACHE_DIR: join(dir, 'cache'), BURN_DAEMON: 'off'}
    const run = (args, stdout = 'pipe', e = env) => {
      const r = spawnSync(process.execPath, args, {env: e, stdio: ['ignore', stdout, 'pipe'], encoding: 'utf8'})
      if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
      process.stderr.write(r.stderr)
    }
    writeFileSync(join(dir, 'tiny.js'), 'module.exports = (x) => ({y: x})\n')
    const bin = join(ROOT, 'bin', 'run.js')
    run([bin, 'register', join(dir, 'tiny.js'), '--name', 'tiny'])
    run([bin, 'run', ...HIT])
    run([fileURLToPath(import.meta.url), '--hit'], 'ignore')
    run([fileURLToPath(import.meta.url), '--list'], 'ignore')
    const daemonEnv = {...env, BURN_DAEMON: 'require'}
    try {
      run([fileURLToPath(import.meta.url), '--run'], 'ignore', daemonEnv)
    } finally {
      run([bin, 'daemon', 'stop'], 'ignore', daemonEnv)
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
