#!/usr/bin/env node
// `burn batch` side by side with a plain Node readline script, jq and the quickjs engine, on
// 1M NDJSON rows like {"id":1,"name":"user1","x":1,"tags":["a","b"],"active":false} (~73 MB,
// generated into a temp dir) mapped by r => ({id: r.id, y: r.x * 2}). It builds nothing:
// run `npm run build` first.
//
//   node bench/batch.mjs [--rows N] [--runs N] [--chunk-sizes 250,1000,...] [--concurrency N]
//
// Each tool runs --runs times, interleaved (so a noisy neighbour hits all of them alike); the
// table shows the median and the best wall time, CPU time (user+sys of the whole process
// tree), and the peak resident memory of the process tree (burn + its runners), sampled from
// /proc every 10 ms. --chunk-sizes measures burn alone at those chunk sizes (how the default
// chunk size was chosen).
import {spawn, spawnSync} from 'node:child_process'
import {closeSync, createWriteStream, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {treeRss} from './proc.mjs'
import {parseArgs} from 'node:util'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const BIN = join(ROOT, 'bin', 'run.js')
const {values: opt} = parseArgs({
  options: {
    rows: {type: 'string', default: '1000000'},
    runs: {type: 'string', default: '5'},
    'chunk-sizes': {type: 'string'},
    concurrency: {type: 'string'},
    keep: {type: 'boolean', default: false},
  },
})
const ROWS = Number(opt.rows)
const RUNS = Number(opt.runs)
const dir = mkdtempSync(join(tmpdir(), 'burn-bench-batch-'))
const cacheDir = join(dir, 'cache')
const input = join(dir, 'rows.ndjson')
const env = {...process.env, BURN_CACHE_DIR: cacheDir, FORCE_COLOR: '0'}

async function generate() {
  const out = createWriteStream(input)
  let buf = ''
  for (let i = 1; i <= ROWS; i++) {
    buf += `{"id":${i},"name":"user${i}","x":${i},"tags":["a","b"],"active":false}\n`
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise((r) => out.once('drain', r))
      buf = ''
    }
  }
  await new Promise((r) => out.end(buf, r))
}

const PLAIN = `import {createInterface} from 'node:readline'
import {createReadStream} from 'node:fs'
const f = (r) => ({id: r.id, y: r.x * 2})
let out = ''
for await (const line of createInterface({input: createReadStream(process.argv[2]), crlfDelay: Infinity})) {
  if (line.trim() === '') continue
  out += JSON.stringify(f(JSON.parse(line))) + '\\n'
  if (out.length > 65536) {
    if (!process.stdout.write(out)) await new Promise((r) => process.stdout.once('drain', r))
    out = ''
  }
}
process.stdout.write(out)
`

/**
 * Runs argv with stdout straight into a file (the tool's own writes; no relay through this
 * process, which would take CPU from the tool on a small machine); returns wall ms and the peak
 * tree RSS.
 */
function measure(argv, outFile) {
  return new Promise((res, rej) => {
    const fd = openSync(outFile, 'w')
    const t0 = performance.now()
    const child = spawn(argv[0], argv.slice(1), {env, stdio: ['ignore', fd, 'pipe']})
    closeSync(fd)
    let peak = 0
    const poll = setInterval(() => (peak = Math.max(peak, treeRss(child.pid))), 10)
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => {
      const wall = performance.now() - t0
      clearInterval(poll)
      if (code === 0) res({wall, peak})
      else rej(new Error(`${argv.join(' ')} exited ${code}: ${stderr}`))
    })
  })
}

// CPU time of finished children (and their reaped descendants) via `times` of a wrapper shell.
function cpuOf(argv) {
  const r = spawnSync('bash', ['-c', `"$@" > /dev/null 2>&1; times`, 'bash', ...argv], {env, encoding: 'utf8'})
  const lines = r.stdout.trim().split('\n')
  const [u, s] = lines[lines.length - 1].split(/\s+/).map((t) => {
    const m = /(\d+)m([\d.]+)s/.exec(t)
    return Number(m[1]) * 60 + Number(m[2])
  })
  return (u + s) * 1000
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmtS = (ms) => (ms / 1000).toFixed(2)
const fmtMB = (b) => (b / 1024 / 1024).toFixed(0)

async function main() {
  process.stderr.write(`generating ${ROWS} rows in ${dir} ...\n`)
  await generate()
  writeFileSync(join(dir, 'plain.mjs'), PLAIN)
  writeFileSync(join(dir, 'map.js'), 'module.exports = (rows) => rows.map((r) => ({id: r.id, y: r.x * 2}))\n')
  const reg = spawnSync(process.execPath, [BIN, 'register', join(dir, 'map.js'), '--name', 'map'], {env, encoding: 'utf8'})
  if (reg.status !== 0) throw new Error(`register failed: ${reg.stderr}`)
  const conc = opt.concurrency ? ['--concurrency', opt.concurrency] : []

  const tools = []
  if (opt['chunk-sizes']) {
    for (const n of opt['chunk-sizes'].split(','))
      tools.push({
        name: `burn batch --chunk-size ${n}`,
        argv: [process.execPath, BIN, 'batch', 'map', '-f', input, '--chunk-size', n, ...conc],
      })
  } else {
    tools.push({name: 'plain node readline', argv: [process.execPath, join(dir, 'plain.mjs'), input], baseline: true})
    tools.push({
      name: `burn batch (v8, concurrency ${opt.concurrency ?? availableParallelism()})`,
      argv: [process.execPath, BIN, 'batch', 'map', '-f', input, ...conc],
      burn: true,
      goals: true,
    })
    if (spawnSync('jq', ['--version']).status === 0)
      tools.push({name: "jq -c '{id, y: (.x*2)}'", argv: ['jq', '-c', '{id, y: (.x*2)}', input]})
    else process.stderr.write('jq is not installed: skipped (apt-get install -y jq)\n')
    const probe = spawnSync(process.execPath, [BIN, 'batch', 'map', '--engine', 'quickjs'], {
      env,
      input: '{"id":1,"x":1}\n',
      encoding: 'utf8',
    })
    if (probe.status === 0 && probe.stdout === '{"id":1,"y":2}\n') {
      tools.push({
        name: `burn batch (quickjs, concurrency ${opt.concurrency ?? availableParallelism()})`,
        argv: [process.execPath, BIN, 'batch', 'map', '-f', input, '--engine', 'quickjs', ...conc],
        burn: true,
      })
    } else {
      process.stderr.write(`quickjs engine not available yet: skipped (${(probe.stderr || probe.stdout).trim().split('\n')[0]})\n`)
    }
  }

  const results = new Map(tools.map((t) => [t.name, {walls: [], peaks: [], cpus: []}]))
  for (let run = 0; run < RUNS; run++) {
    for (const t of tools) {
      const outFile = join(dir, `out-${tools.indexOf(t)}.ndjson`)
      const m = await measure(t.argv, outFile)
      const r = results.get(t.name)
      r.walls.push(m.wall)
      r.peaks.push(m.peak)
      process.stderr.write(`run ${run + 1}/${RUNS} ${t.name}: ${fmtS(m.wall)}s, peak ${fmtMB(m.peak)} MB\n`)
    }
  }
  for (const t of tools) results.get(t.name).cpus.push(cpuOf(t.argv))

  // every tool must have produced the same bytes
  const outs = tools.map((t, i) => readFileSync(join(dir, `out-${i}.ndjson`)))
  const same = outs.every((o) => o.equals(outs[0]))

  const base = tools.find((t) => t.baseline)
  const baseWall = base ? median(results.get(base.name).walls) : undefined
  const rowsFmt = (n) => Math.round(n).toLocaleString('en-US')
  const header = ['tool', 'median s', 'best s', 'rows/s (median)', 'CPU s', 'peak RSS MB (max)', base ? 'wall vs plain node' : '']
  const table = tools.map((t) => {
    const r = results.get(t.name)
    const med = median(r.walls)
    return [
      t.name,
      fmtS(med),
      fmtS(Math.min(...r.walls)),
      rowsFmt(ROWS / (med / 1000)),
      fmtS(r.cpus[0]),
      fmtMB(Math.max(...r.peaks)),
      baseWall ? `${(med / baseWall).toFixed(2)}x` : '',
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)))
  const line = (cells) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |'
  console.log(
    `\nburn batch benchmark: ${ROWS.toLocaleString('en-US')} NDJSON rows, r => ({id: r.id, y: r.x * 2}), ${RUNS} interleaved runs each, ${availableParallelism()} CPUs, node ${process.version}`,
  )
  console.log(line(header))
  console.log('|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|')
  for (const row of table) console.log(line(row))
  console.log(`outputs identical: ${same ? 'yes' : 'NO'}`)
  if (base) {
    for (const t of tools.filter((x) => x.burn)) {
      const r = results.get(t.name)
      const ratio = median(r.walls) / baseWall
      const peak = Math.max(...r.peaks)
      if (t.goals) {
        console.log(
          `${t.name}: ${ratio.toFixed(2)}x plain node wall time (goal <= 0.8x: ${ratio <= 0.8 ? 'met' : 'NOT met'}; best run ${(Math.min(...r.walls) / baseWall).toFixed(2)}x), peak ${fmtMB(peak)} MB (goal <= 250 MB: ${peak <= 250 * 1024 * 1024 ? 'met' : 'NOT met'})`,
        )
      } else {
        console.log(
          `${t.name}: ${rowsFmt(ROWS / (median(r.walls) / 1000))} rows/s, ${ratio.toFixed(2)}x plain node wall time, peak ${fmtMB(peak)} MB`,
        )
      }
    }
  }
  console.log(
    `reproduce: npm run build && node bench/batch.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
  )
  const load = readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ')
  console.log(`load average at the end: ${load} (other work on the machine inflates every figure alike)`)
}

main().then(
  () => opt.keep || rmSync(dir, {recursive: true, force: true}),
  (error) => {
    rmSync(dir, {recursive: true, force: true})
    console.error(error)
    process.exit(1)
  },
)
