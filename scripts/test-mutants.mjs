// Proves that the run daemon's tests test the daemon (issue 15): a client that silently ran every
// call directly once made all of them pass with the daemon's call handler broken. Each mutant
// below breaks the built daemon in a copy of the build (nothing in burn itself reads a test
// knob), and the daemon test files are run against that copy: every mutant must make at least
// one of them fail. Exit 0 only if every mutant was killed.
//
//   npm run test:mutants              (builds first)
//   node scripts/test-mutants.mjs     (the build in dist/ and dist-test/ as it is)
import {spawn} from 'node:child_process'
import {cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const DAEMON = 'dist/fast/daemon.js'
const TESTS = ['dist-test/test/e2e/daemon.test.js', 'dist-test/test/e2e/security-daemon.test.js']

// Each patch replaces one exact string of the bundled daemon (server.ts, relay.ts as esbuild
// emits them): a patch that no longer matches fails this script instead of testing nothing.
const MUTANTS = [
  {
    name: 'the call handler throws on every call',
    from: 'async function call(conn, req, raw) {',
    to: 'async function call(conn, req, raw) {\n  throw new Error("mutant: the call handler throws");',
  },
  {
    name: 'the call handler refuses quickjs calls only',
    from: 'async function call(conn, req, raw) {',
    to: 'async function call(conn, req, raw) {\n  if (req.engine === "quickjs") throw new Error("mutant: no quickjs");',
  },
  {
    name: "the runner's console output (stderr) is not relayed",
    from: 'if (!this.send("e", d)) {',
    to: 'if (false) {',
  },
  {
    name: 'every call ends with exit code 0',
    from: 'send("x", String(code));',
    to: 'send("x", "0");',
  },
]

// (the first daemon test, which starts the daemon, and a few cases of the direct-vs-daemon
// corpus: the copy works, and the tests pass unmutated)
const BASELINE = "^starts after the first run|gives exactly a direct run's output and exit code: (a hit|console output|quickjs)$"
const BASELINE_TESTS = 4

/** A copy of the build (node_modules linked), its daemon bundle patched by `mutant`. */
function copyOfBuild(dir, mutant) {
  for (const part of ['bin', 'dist', 'dist-test', 'package.json', 'oclif.manifest.json'])
    cpSync(join(ROOT, part), join(dir, part), {recursive: true})
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  if (!mutant) return
  const file = join(dir, DAEMON)
  const source = readFileSync(file, 'utf8')
  const at = source.indexOf(mutant.from)
  if (at < 0 || source.indexOf(mutant.from, at + 1) >= 0) {
    throw new Error(`mutant "${mutant.name}": ${JSON.stringify(mutant.from)} is not in ${DAEMON} exactly once`)
  }
  writeFileSync(file, source.replace(mutant.from, mutant.to))
}

/**
 * Runs the test files of the copy in `dir`: the first failing test's line (undefined when none
 * failed) and how many passed. The run is stopped at the first failure: one is all a mutant needs.
 */
function firstFailure(dir, tmp, pattern) {
  const args = ['--test', '--test-reporter=tap', ...(pattern ? ['--test-name-pattern', pattern] : []), ...TESTS.map((t) => join(dir, t))]
  // The tests' cache dirs go under `tmp`: removed with it, and their daemons leave with them.
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: {...process.env, TMPDIR: tmp},
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve) => {
    let buffered = ''
    let failed
    let passed = 0
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buffered += d
      const lines = buffered.split('\n')
      buffered = lines.pop()
      for (const line of lines) {
        passed = Number(/^# pass (\d+)$/.exec(line)?.[1] ?? passed)
        if (failed === undefined && /^\s*not ok \d+/.test(line)) {
          failed = line.trim()
          try {
            process.kill(-child.pid, 'SIGKILL')
          } catch {
            // already gone
          }
        }
      }
    })
    child.on('close', (code) => resolve({failed: failed ?? (code === 0 ? undefined : `the test run ended with exit ${code}`), passed}))
  })
}

async function trial(root, i, mutant, pattern) {
  const dir = join(root, `build-${i}`)
  const tmp = join(root, `tmp-${i}`)
  mkdirSync(tmp)
  copyOfBuild(dir, mutant)
  const t0 = Date.now()
  try {
    const {failed, passed} = await firstFailure(dir, tmp, pattern)
    return {failure: failed, passed, seconds: Math.round((Date.now() - t0) / 1000)}
  } finally {
    rmSync(tmp, {recursive: true, force: true})
    rmSync(dir, {recursive: true, force: true})
  }
}

const root = mkdtempSync(join(tmpdir(), 'burn-mutants-'))
let survivors = 0
try {
  const base = await trial(root, 0, undefined, BASELINE)
  if (base.failure || base.passed < BASELINE_TESTS) {
    console.error(`baseline: the unmutated copy fails (${base.failure ?? `${base.passed} tests passed`}); fix that first`)
    process.exitCode = 1
  } else {
    console.log(`baseline: ${base.passed} tests pass unmutated (${base.seconds}s)`)
    for (const [i, mutant] of MUTANTS.entries()) {
      const {failure, seconds} = await trial(root, i + 1, mutant)
      if (failure) console.log(`killed: ${mutant.name} (${seconds}s; ${failure})`)
      else {
        survivors++
        console.log(`SURVIVED: ${mutant.name} (${seconds}s): no daemon test failed`)
      }
    }
    console.log(`${MUTANTS.length - survivors} of ${MUTANTS.length} mutants killed`)
    if (survivors > 0) process.exitCode = 1
  }
} finally {
  rmSync(root, {recursive: true, force: true})
}
