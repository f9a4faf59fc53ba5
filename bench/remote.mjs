// The shared remote cache (README, "Shared remote cache"), side by side in one run, medians:
// a fresh machine's first run with a warm remote vs register + run with no remote (tiny and the
// 9 MB typescript.js of bench/run.mjs), and a local hit with a remote configured vs with none
// (the client must not even load), and `burn pull` of 1,000 scripts (scripts per second). Starts
// its own redis-server on a unix socket.
// Usage: npm run build && node bench/remote.mjs [--n 5]
import {spawn} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {BIN, compare, run, table, tempDir} from './lib.mjs'

const n = Number(process.argv[process.argv.indexOf('--n') + 1]) || 5
const dir = tempDir('burn-bench-remote-')
const sock = join(dir, 'redis.sock')
const server = spawn('redis-server', ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no', '--dir', dir], {
  stdio: 'ignore',
})
process.on('exit', () => server.kill())
for (let i = 0; ; i++) {
  await new Promise((r) => setTimeout(r, 100))
  try {
    if (run('redis-cli', ['-s', sock, 'ping']).stdout.trim() === 'PONG') break
  } catch (error) {
    if (i > 100) throw error
  }
}

const remote = {BURN_REMOTE: `unix://${sock}`, BURN_REMOTE_KEY: 'bench-key'}
const base = {...process.env, BURN_DAEMON: 'off'}
const burn = (cache, env, ...args) => run(process.execPath, [BIN, ...args, '--cache-dir', cache], {env: {...base, ...env}})
let fresh = 0
const freshDir = () => join(dir, `fresh-${fresh++}`)

const tiny = join(dir, 'tiny.js')
writeFileSync(tiny, 'module.exports = (x) => x\n')
const require = createRequire(import.meta.url)
const ts = join(dir, 'ts-wrapped.js')
writeFileSync(
  ts,
  readFileSync(require.resolve('typescript/lib/typescript.js'), 'utf8') +
    `\n;const __ts = module.exports;\nmodule.exports = (input) => __ts.transpileModule(input.code, {compilerOptions: {target: 99, module: 1}}).outputText;\n`,
)
const tsInput = JSON.stringify({code: 'const x: number = 1; export default x'})
const warm = join(dir, 'warm')
burn(warm, remote, 'register', tiny, '--name', 'tiny')
burn(warm, remote, 'register', ts, '--name', 'ts', '--timeout', '60s')

const rows = [['case', 'baseline', 'burn', 'ratio']]
for (const [label, file, input, name] of [
  ['tiny', tiny, '1', 'tiny'],
  ['typescript.js (9 MB)', ts, tsInput, 'ts'],
]) {
  const m = compare(
    {
      cold: () => {
        const c = freshDir()
        const t = ['--timeout', '60s'] // (9 MB on a loaded machine passes the 5 s default)
        return {ms: burn(c, {}, 'register', file, '--name', name, ...t).ms + burn(c, {}, 'run', name, '--input', input, ...t).ms}
      },
      warm: () => burn(freshDir(), remote, 'run', name, '--input', input, '--timeout', '60s'),
    },
    n,
  )
  rows.push([
    `first run, empty cache dir: ${label}`,
    `${m.cold.toFixed(1)} ms (register + run)`,
    `${m.warm.toFixed(1)} ms (warm remote)`,
    (m.warm / m.cold).toFixed(2),
  ])
}

const hit = compare(
  {none: () => burn(warm, {}, 'run', 'tiny', '--input', '1'), remote: () => burn(warm, remote, 'run', 'tiny', '--input', '1')},
  Math.max(n, 10),
)
rows.push([
  'local hit, tiny (direct run)',
  `${hit.none.toFixed(1)} ms (no remote)`,
  `${hit.remote.toFixed(1)} ms (remote set)`,
  (hit.remote / hit.none).toFixed(2),
])
// `burn pull` of 1,000 small scripts into an empty cache dir: one process, each a local miss
// that fetches, verifies and stores (scripts per second)
const many = join(dir, 'many')
run('mkdir', ['-p', many])
for (let i = 0; i < 1000; i++) writeFileSync(join(many, `p${i}.js`), `module.exports = (x) => x + ${i} // pull\n`)
const manyHashes = JSON.parse(burn(join(dir, 'many-cache'), remote, 'register', join(many, '*.js'), '--json').stdout).results.map(
  (r) => r.hash,
)
const pulls = compare({pull: () => burn(freshDir(), remote, 'pull', ...manyHashes)}, Math.min(n, 3))
rows.push([
  'burn pull of 1,000 scripts, empty cache dir',
  '',
  `${pulls.pull.toFixed(0)} ms`,
  `${(1000 / (pulls.pull / 1000)).toFixed(0)} scripts/s`,
])
console.log(table(rows))
console.log('\nreproduce: npm run build && node bench/remote.mjs --n 5')
