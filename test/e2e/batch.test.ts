import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {createWriteStream, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {before, describe, test} from 'node:test'
import {pathToFileURL} from 'node:url'
import {assertNoDebris} from '../fixtures/store.js'
import {BIN, burn, burnPeak, register, ROOT, stats, tmp, writeScript} from '../helpers.js'

// the benchmarks' /proc helper (plain JS in bench/, outside the compiled test tree)
const {treeRss} = (await import(pathToFileURL(join(ROOT, 'bench', 'proc.mjs')).href)) as {treeRss: (pid: number) => number}

// `burn batch` end to end: the built binary, a private cache, real files and pipes.
const dir = tmp('burn-batch-')
const cacheDir = join(dir, 'cache')

// The row function under test, applied by burn (inside the script) and by plain Node here.
const ROW_FN = 'r => ({id: r.id, y: r.x * 2, s: r.s})'
const rowFn = new Function(`return ${ROW_FN}`)() as (r: Row) => unknown

interface Row {
  id: number
  name: string
  x: number
  tags: string[]
  active: boolean
  s?: string
}

/** Rows with some non-ASCII, escapes and an emoji, so output bytes are more than digits. */
function makeRows(n: number): Row[] {
  const rows: Row[] = new Array(n)
  for (let i = 1; i <= n; i++) {
    rows[i - 1] = {id: i, name: `user${i}`, x: i, tags: ['a', 'b'], active: i % 2 === 0}
    if (i % 97 === 0) rows[i - 1].s = `multi\nline "quoted" \u00e9 \u{1F600} ${i}`
  }
  return rows
}

const ndjson = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join('\n') + (values.length ? '\n' : '')
const jsonArray = (values: unknown[]) => '[\n' + values.map((v) => JSON.stringify(v)).join(',\n') + '\n]\n'

/** Exact equality without a megabyte diff in the failure message. */
function sameText(actual: string, expected: string, label: string): void {
  if (actual === expected) return
  let i = 0
  while (i < actual.length && actual[i] === expected[i]) i++
  assert.fail(
    `${label}: output differs at character ${i} (lengths ${actual.length} vs ${expected.length}): ${JSON.stringify(actual.slice(i, i + 80))} vs ${JSON.stringify(expected.slice(i, i + 80))}`,
  )
}

const run = (args: string[], input?: string) => burn(['batch', ...args], {cacheDir, input, timeoutMs: 120_000})

const rows100k = makeRows(100_000)
const rows10k = rows100k.slice(0, 10_000)
const files = {
  nd100k: join(dir, 'rows100k.ndjson'),
  json100k: join(dir, 'rows100k.json'),
  nd10k: join(dir, 'rows10k.ndjson'),
  json10k: join(dir, 'rows10k.json'),
}
const expected100k = ndjson(rows100k.map(rowFn))
const expected10k = ndjson(rows10k.map(rowFn))

before(() => {
  writeFileSync(files.nd100k, ndjson(rows100k))
  writeFileSync(files.json100k, jsonArray(rows100k))
  writeFileSync(files.nd10k, ndjson(rows10k))
  writeFileSync(files.json10k, jsonArray(rows10k))
  const scripts: Record<string, string> = {
    map: `module.exports = (rows) => rows.map(${ROW_FN})\n`,
    filter: 'module.exports = (rows) => rows.filter((r) => r.id % 3 === 0)\n',
    flat: 'module.exports = (rows) => rows.flatMap((r) => (r.id % 2 ? [r.id, -r.id] : [{id: r.id}]))\n',
    object: 'module.exports = (rows) => ({count: rows.length})\n',
    count: 'module.exports = (rows) => [rows.length]\n',
    faulty: `module.exports = (rows) => rows.map((r) => {
  if (r.x === 'throw') throw new Error('boom at ' + r.id)
  if (r.x === 'bomb') { const a = []; for (;;) a.push('x'.repeat(1000) + a.length) }
  return r.id
})
`,
  }
  for (const [name, source] of Object.entries(scripts)) register(cacheDir, writeScript(dir, `${name}.js`, source), ['--name', name])
})

describe('output equals plain Node, byte for byte', () => {
  // chunk size 1 makes one call per row (about 0.15 ms each on a busy 2-core machine), so it
  // runs on the first 10,000 rows; every other case on all 100,000.
  for (const concurrency of ['1', '4']) {
    for (const chunk of ['1', '7', '1000', '0']) {
      const small = chunk === '1'
      test(`NDJSON in and out, chunk size ${chunk}, concurrency ${concurrency}${small ? ' (10k rows)' : ''}`, () => {
        // (chunk size 0 is one call over all 100,000 rows: seconds on a loaded machine, so no 5 s default)
        const input = small ? files.nd10k : files.nd100k
        const r = run(['map', '--input-file', input, '--chunk-size', chunk, '--concurrency', concurrency, '--timeout', '60s'])
        assert.equal(r.code, 0, r.stderr)
        assert.equal(r.stderr, '')
        sameText(r.stdout, small ? expected10k : expected100k, 'ndjson')
      })
    }
  }

  test('a JSON array in, a JSON array out (the bytes of JSON.stringify of all rows)', () => {
    const r = run(['map', '-f', files.json100k, '--output-format', 'json', '--chunk-size', '1000', '-c', '4'])
    assert.equal(r.code, 0, r.stderr)
    sameText(r.stdout, JSON.stringify(rows100k.map(rowFn)) + '\n', 'json')
  })

  test('a JSON array in, chunk size 7, from stdin; NDJSON out', () => {
    const r = run(['map', '--chunk-size', '7', '-c', '2'], readFileSync(files.json10k, 'utf8'))
    assert.equal(r.code, 0, r.stderr)
    sameText(r.stdout, expected10k, 'json in')
  })

  test('default chunking, blank lines and CRLF line ends in the input', () => {
    const text = ndjson(rows10k)
      .replaceAll('\n', '\r\n')
      .replace(/(\r\n)(?=\{"id":5,)/, '$1\r\n   \r\n\r\n')
    const r = run(['map'], text)
    assert.equal(r.code, 0, r.stderr)
    sameText(r.stdout, expected10k, 'crlf')
  })

  test('a filter script (fewer rows out) and a flatMap script (more out) keep the order', () => {
    const filter = run(['filter', '-f', files.nd10k, '--chunk-size', '7', '-c', '4'])
    assert.equal(filter.code, 0, filter.stderr)
    sameText(filter.stdout, ndjson(rows10k.filter((r) => r.id % 3 === 0)), 'filter')
    const flat = run(['flat', '-f', files.nd10k, '--chunk-size', '13', '-c', '4', '--output-format', 'json'])
    assert.equal(flat.code, 0, flat.stderr)
    sameText(flat.stdout, JSON.stringify(rows10k.flatMap((r): unknown[] => (r.id % 2 ? [r.id, -r.id] : [{id: r.id}]))) + '\n', 'flatMap')
  })

  test('chunk size 0 is one call with the whole input; no rows is [] in JSON', () => {
    const all = run(['count', '-f', files.nd10k, '--chunk-size', '0'])
    assert.deepEqual([all.code, all.stdout], [0, '10000\n'])
    const chunked = run(['count', '-f', files.nd10k, '--chunk-size', '3000'])
    assert.deepEqual([chunked.code, chunked.stdout], [0, '3000\n3000\n3000\n1000\n'])
    // Afterburner's contract: even an empty array is one call
    const empty = run(['count', '--chunk-size', '0'], '[]')
    assert.deepEqual([empty.code, empty.stdout], [0, '0\n'])
    const none = run(['map', '--output-format', 'json'], '')
    assert.deepEqual([none.code, none.stdout, none.stderr], [0, '[]\n', ''])
  })
})

describe('bad input and bad results: exit 7 naming the chunk, rows and line', () => {
  test('malformed line 5 of an NDJSON file', () => {
    const file = join(dir, 'bad-line-5.ndjson')
    writeFileSync(file, '{"id":1,"x":1}\n{"id":2,"x":2}\n{"id":3,"x":3}\n\n{"id":5,"x":\n{"id":6,"x":6}\n')
    const r = run(['map', '-f', file, '--chunk-size', '2'])
    assert.equal(r.code, 7)
    // the chunk before the bad one is written; line 4 is blank, so row 4 is line 5
    assert.equal(r.stdout, '{"id":1,"y":2}\n{"id":2,"y":4}\n')
    assert.match(r.stderr, /^Error: chunk 2 \(rows 3-4\): row 4 \(line 5\): invalid JSON: /)
    const j = run(['map', '-f', file, '--json'])
    assert.equal(j.code, 7)
    assert.equal(j.stdout, '')
    const summary = JSON.parse(j.stderr)
    assert.deepEqual(
      {
        code: summary.error.code,
        kind: summary.error.kind,
        chunk: summary.error.chunk,
        row: summary.error.row,
        line: summary.error.line,
        firstRow: summary.error.firstRow,
        lastRow: summary.error.lastRow,
      },
      {code: 7, kind: 'badData', chunk: 1, row: 4, line: 5, firstRow: 1, lastRow: 5},
    )
  })

  test('a JSON array with a bad element, and one that is not closed', () => {
    const bad = run(['map', '--chunk-size', '2'], '[{"id":1,"x":1},\n{"id":2,"x":2},\n{"id":3,x:3}]')
    assert.equal(bad.code, 7)
    assert.equal(bad.stdout, '{"id":1,"y":2}\n{"id":2,"y":4}\n')
    assert.match(bad.stderr, /^Error: chunk 2 \(row 3\): row 3 \(line 3\): invalid JSON: /)
    const open = run(['map', '--chunk-size', '1'], '[{"id":1,"x":1},\n{"id":2,"x":2}')
    assert.equal(open.code, 7)
    assert.equal(open.stdout, '{"id":1,"y":2}\n')
    assert.equal(open.stderr, 'Error: the JSON array is not closed: the input ends at line 2 (row 2)\n')
  })

  test('a non-array input with chunk size 0', () => {
    const r = run(['count', '--chunk-size', '0', '--input-format', 'json'], '{"id":1,"x":1}')
    assert.deepEqual([r.code, r.stdout, r.stderr], [7, '', "Error: input must be a JSON array; it starts with '{' at line 1\n"])
  })

  test('NDJSON whose rows are arrays needs --input-format ndjson', () => {
    const r = run(['count', '--chunk-size', '0'], '[1,2]\n[3,4]\n')
    assert.equal(r.code, 7)
    assert.match(
      r.stderr,
      /unexpected data after the JSON array at line 2; if the input is NDJSON whose rows are arrays, pass --input-format ndjson/,
    )
    const ok = run(['count', '--chunk-size', '0', '--input-format', 'ndjson'], '[1,2]\n[3,4]\n')
    assert.deepEqual([ok.code, ok.stdout], [0, '2\n'])
  })

  test('a script that returns an object', () => {
    const r = run(['object', '--chunk-size', '2'], '{"id":1}\n{"id":2}\n{"id":3}\n')
    assert.deepEqual([r.code, r.stdout, r.stderr], [7, '', 'Error: chunk 1 (rows 1-2): script must return an array; got object\n'])
  })
})

describe('--on-error with one chunk that throws and one that exceeds --memory', () => {
  // chunks of 2 rows: [1 2] [3 4] [5 6] [7 8]; one throws, one allocates until killed
  const input = (first: string, second: string) =>
    [1, 2, 3, 4, 5, 6, 7, 8].map((id) => JSON.stringify({id, x: id === 3 ? first : id === 5 ? second : id})).join('\n') + '\n'
  const args = (mode: string, concurrency = '2') => [
    'faulty',
    '--chunk-size',
    '2',
    '--memory',
    '64MiB',
    '--on-error',
    mode,
    '-c',
    concurrency,
  ]

  test('fail stops at the first failed chunk in input order, keeping what came before', () => {
    const thrown = run(args('fail'), input('throw', 'bomb'))
    assert.equal(thrown.code, 5)
    assert.equal(thrown.stdout, '1\n2\n')
    assert.match(thrown.stderr, /^Error: chunk 2 \(rows 3-4\): Error: boom at 3\n/)
  })

  test('a chunk over --memory: exit 6, and the peak memory of the runners stays under the limit', async () => {
    // one runner: a second one, started while chunks are under way, can have its memory
    // baseline taken before it has loaded, and be stopped well under the limit (measured: a peak
    // of 64 MiB at concurrency 2, against 112 MiB at 1), which would hide a limit set too high
    const killed = await burnPeak(['batch', ...args('fail', '1')], {cacheDir, input: input('bomb', 'throw')})
    assert.equal(killed.code, 6)
    assert.equal(killed.stdout, '1\n2\n')
    assert.equal(killed.stderr, 'Error: chunk 2 (rows 3-4): memory limit exceeded: the script used more than --memory 64MiB\n')
    // measured against the same batch with no bomb: what the runners hold anyway, plus the
    // limit, plus a margin for what a runner grows between two of the watchdog's polls
    const plain = await burnPeak(['batch', ...args('fail', '1')], {cacheDir, input: input('3', '5')})
    assert.deepEqual([plain.code, plain.stdout], [0, '1\n2\n3\n4\n5\n6\n7\n8\n'])
    const MiB = 1024 * 1024
    const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`
    assert.ok(plain.peakRss >= 16 * MiB, `peak ${mib(plain.peakRss)}: the runners were not measured`)
    const bound = plain.peakRss + 64 * MiB + 32 * MiB
    assert.ok(killed.peakRss < bound, `peak resident size ${mib(killed.peakRss)}, over the bound ${mib(bound)}`)
  })

  test('skip drops the failed chunks and goes on; a dead runner is replaced (concurrency 1)', () => {
    const r = run(args('skip', '1'), input('throw', 'bomb'))
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '1\n2\n7\n8\n', ''])
  })

  test('emit also writes one JSON line per failed chunk to stderr', () => {
    const r = run([...args('emit'), '--json'], input('throw', 'bomb'))
    assert.equal(r.code, 0)
    assert.equal(r.stdout, '1\n2\n7\n8\n')
    const lines = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    assert.equal(lines.length, 3)
    const [thrown, killed, summary] = lines
    assert.match(thrown.message, /^Error: boom at 3\n/)
    assert.deepEqual({...thrown, message: undefined}, {chunk: 2, firstRow: 3, lastRow: 4, code: 5, kind: 'scriptError', message: undefined})
    assert.deepEqual(killed, {
      chunk: 3,
      firstRow: 5,
      lastRow: 6,
      code: 6,
      kind: 'limit',
      limit: 'memory',
      message: 'memory limit exceeded: the script used more than --memory 64MiB',
    })
    assert.deepEqual([summary.rowsIn, summary.rowsOut, summary.chunks, summary.chunksFailed, summary.error], [8, 4, 4, 2, undefined])
  })
})

describe('output', () => {
  test('--output is written atomically: a failed batch leaves the old file as it was', () => {
    const out = join(dir, 'out.ndjson')
    writeFileSync(out, 'old\n')
    const failed = run(['faulty', '--chunk-size', '1', '-o', out], '{"id":1,"x":1}\n{"id":2,"x":"throw"}\n')
    assert.equal(failed.code, 5)
    assert.equal(readFileSync(out, 'utf8'), 'old\n')
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('.burn-')),
      [],
    )
    assertNoDebris(cacheDir)
    const ok = run(['map', '-f', files.nd10k, '-o', out, '--output-format', 'json'])
    assert.deepEqual([ok.code, ok.stdout], [0, ''])
    sameText(readFileSync(out, 'utf8'), JSON.stringify(rows10k.map(rowFn)) + '\n', '--output')
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('.burn-')),
      [],
    )
    assertNoDebris(cacheDir)
  })

  test('--json: stdout carries only rows, the summary is one JSON object on stderr', () => {
    const r = run(['map', '-f', files.nd10k, '--chunk-size', '1000', '-c', '2', '--json'])
    assert.equal(r.code, 0)
    sameText(r.stdout, expected10k, 'rows')
    const s = JSON.parse(r.stderr)
    assert.equal(typeof s.seconds, 'number')
    assert.deepEqual(
      {...s, seconds: 0, hash: ''},
      {
        rowsIn: 10000,
        rowsOut: 10000,
        chunks: 10,
        chunksFailed: 0,
        engine: 'v8',
        inputFormat: 'ndjson',
        outputFormat: 'ndjson',
        chunkSize: 1000,
        concurrency: 2,
        outputClosed: false,
        seconds: 0,
        hash: '',
      },
    )
  })

  test('--progress off a terminal: the summary line on stderr', () => {
    const r = run(['map', '-f', files.nd10k, '--progress', '--chunk-size', '100'])
    assert.equal(r.code, 0)
    // (a progress line every 2 s before it, on a machine slow enough to take that long)
    assert.match(
      r.stderr,
      /^(batch: [\d,]+ rows done, [\d,]+ rows\/s, \d+\.\ds elapsed\n)*batch: 10000 rows in, 10000 rows out, 0 chunks failed, \d+\.\d\ds\n$/,
    )
  })

  test('on a terminal: a spinner and the summary line on stderr', (t) => {
    if (spawnSync('script', ['--version']).status !== 0) return t.skip('util-linux script(1) is not installed')
    const out = join(dir, 'tty-out.ndjson')
    // script(1) makes a pseudo-terminal; it has no size until stty gives it one
    const cmd = `stty cols 120 rows 40; ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} batch map -f ${JSON.stringify(files.nd10k)} -o ${JSON.stringify(out)} --chunk-size 100`
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
      env: {...process.env, BURN_CACHE_DIR: cacheDir},
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.equal(r.status, 0, r.stdout)
    assert.match(r.stdout, /batch: 10000 rows in, 10000 rows out, 0 chunks failed, \d+\.\d\ds/)
    sameText(readFileSync(out, 'utf8'), expected10k, 'tty')
  })

  test('batch rows and chunk outcomes are counted in burn stats', () => {
    const own = join(dir, 'stats-cache')
    const h = register(own, join(dir, 'map.js'))
    const before = stats(own)
    const r = burn(['batch', h.slice(0, 8), '--chunk-size', '3', '-c', '1'], {cacheDir: own, input: ndjson(rows10k.slice(0, 10))})
    assert.equal(r.code, 0, r.stderr)
    const after = stats(own)
    assert.deepEqual(
      ['batch.runs', 'batch.rows', 'batch.rowsOut', 'batch.chunks.ok', 'hits'].map((k) => (after[k] ?? 0) - (before[k] ?? 0)),
      [1, 10, 10, 4, 1],
    )
  })
})

async function writeBig(file: string, n: number): Promise<void> {
  const out = createWriteStream(file)
  let buf = ''
  for (let i = 1; i <= n; i++) {
    buf += `{"id":${i},"name":"user${i}","x":${i},"tags":["a","b"],"active":false}\n`
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()))
      buf = ''
    }
  }
  await new Promise<void>((r) => out.end(buf, () => r()))
}

describe('large inputs', {skip: process.platform !== 'linux' && 'needs /proc'}, () => {
  const big1m = join(dir, 'big-1m.ndjson')
  before(() => writeBig(big1m, 1_000_000))

  test('a 1M-row input through | head -n 3: 3 lines, exit 0, promptly', () => {
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} batch map -f ${JSON.stringify(big1m)} --json 2> ${JSON.stringify(join(dir, 'head.err'))} | head -n 3; echo "burn exit \${PIPESTATUS[0]}" >&2`
    const t0 = performance.now()
    const r = spawnSync('bash', ['-c', cmd], {env: {...process.env, BURN_CACHE_DIR: cacheDir}, encoding: 'utf8', timeout: 60_000})
    const seconds = (performance.now() - t0) / 1000
    assert.equal(r.stdout, '{"id":1,"y":2}\n{"id":2,"y":4}\n{"id":3,"y":6}\n')
    assert.equal(r.stderr, 'burn exit 0\n')
    const summary = JSON.parse(readFileSync(join(dir, 'head.err'), 'utf8'))
    assert.equal(summary.outputClosed, true)
    // it stopped right after head left, far from the end of the input
    assert.ok(summary.rowsIn < 200_000, `read ${summary.rowsIn} rows`)
    assert.ok(seconds < 10, `took ${seconds.toFixed(1)} s`)
  })

  test('memory is flat: peak RSS of burn and its runners, 1M rows vs 4M rows, differs by less than 20%', async (t) => {
    const big4m = join(dir, 'big-4m.ndjson')
    await writeBig(big4m, 4_000_000)
    const peak = (file: string) =>
      new Promise<number>((res, rej) => {
        const child = spawn(process.execPath, [BIN, 'batch', 'map', '-f', file], {
          env: {...process.env, BURN_CACHE_DIR: cacheDir},
          stdio: ['ignore', 'ignore', 'pipe'],
        })
        let max = 0
        let stderr = ''
        const poll = setInterval(() => (max = Math.max(max, treeRss(child.pid!))), 20)
        child.stderr!.on('data', (d) => (stderr += d))
        child.on('exit', (code) => {
          clearInterval(poll)
          if (code === 0) res(max)
          else rej(new Error(`burn batch exited ${code}: ${stderr}`))
        })
      })
    const p1 = await peak(big1m)
    const p4 = await peak(big4m)
    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`
    assert.ok(Math.abs(p4 - p1) / p1 < 0.2, `peak RSS 1M rows ${mb(p1)}, 4M rows ${mb(p4)}`)
    t.diagnostic(`peak RSS 1M rows ${mb(p1)}, 4M rows ${mb(p4)}`)
  })
})

describe('values JSON makes hard, on both engines', () => {
  // One function, applied by burn (inside the script, each engine) and by plain Node here: row i
  // gives value i. Numbers whose shortest form has an exponent or none, -0, lone surrogates,
  // the two line separators JSON leaves unescaped, and nesting deep enough to matter.
  const VALUE_FN = `(i) => {
    const nest = (n, leaf) => { let v = leaf; for (let k = 0; k < n; k++) v = k % 2 ? [v] : {d: v}; return v }
    const values = [
      0.1 + 0.2, -0, [-0], {z: -0}, 1e21, 1e-7, 123e-20, 1.5e300, -2.5e-308, 5e-324, 1.7976931348623157e308, 2 ** 53 + 1,
      0.000001, 1e20, 123456789012345680000, -1e21, 4.35, 100, -0.0000001, 1 / 3,
      '\\ud800', '\\udfff', 'a\\ud83d', '\\ude00b', '\\ud83d\\ude00', '\\u2028', '\\u2029', 'x\\u2028y\\u2029z', '\\u0000\\u001f\\u007f',
      {'\\u2028': '\\ud800', '-0': -0}, [1e21, '\\u2029', [0.1, [-0]]],
      nest(200, 1.5e-10), nest(201, '\\udc00'), {a: nest(50, {b: [1e21, -0]})},
    ]
    return values[i % values.length]
  }`
  const valueFn = new Function(`return ${VALUE_FN}`)() as (i: number) => unknown
  const N = 34 * 3
  const indices = Array.from({length: N}, (_, i) => i)
  let file: string

  before(() => {
    file = writeScript(dir, 'values.ndjson', ndjson(indices))
    const src = writeScript(dir, 'values.js', `module.exports = (rows) => rows.map(${VALUE_FN})\n`)
    for (const engine of ['v8', 'quickjs']) register(cacheDir, src, ['--name', 'values', '--engine', engine])
  })

  for (const engine of ['v8', 'quickjs']) {
    for (const format of ['ndjson', 'json']) {
      test(`${engine}, ${format} out: the bytes of plain Node's JSON.stringify`, () => {
        const r = run(['values', '--engine', engine, '-f', file, '--output-format', format, '--chunk-size', '7'])
        assert.equal(r.code, 0, r.stderr)
        assert.equal(r.stderr, '')
        const expected = format === 'json' ? JSON.stringify(indices.map(valueFn)) + '\n' : ndjson(indices.map(valueFn))
        sameText(r.stdout, expected, `${engine} ${format}`)
      })
    }
  }
})

describe('engines', () => {
  test('quickjs gives the same bytes as v8', () => {
    const r = run(['map', '--engine', 'quickjs', '-f', files.nd10k, '--chunk-size', '500'])
    assert.equal(r.code, 0, r.stderr)
    sameText(r.stdout, expected10k, 'quickjs')
  })

  test("runners start without node's extra CA file: only burn's own process reads it", () => {
    // (a file that does not exist: node warns once per process that reads it, on that process's stderr)
    const ca = join(dir, 'no-such-ca.pem')
    const r = burn(['batch', 'map', '-f', files.nd10k, '--chunk-size', '500', '--concurrency', '2'], {
      cacheDir,
      env: {NODE_EXTRA_CA_CERTS: ca},
    })
    assert.equal(r.code, 0, r.stderr)
    sameText(r.stdout, expected10k, 'with NODE_EXTRA_CA_CERTS')
    assert.equal(r.stderr.split(`Ignoring extra certs from \`${ca}\``).length - 1, 1, r.stderr)
  })

  test('an unknown script is exit 3, with nothing on stdout', () => {
    const r = run(['no-such-script'], '{"id":1}\n')
    assert.equal(r.code, 3)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^Error: no script matches "no-such-script"/)
  })

  test('help has examples', () => {
    const r = burn(['batch', '--help'], {cacheDir})
    assert.equal(r.code, 0)
    assert.match(r.stdout, /EXAMPLES/)
    assert.match(r.stdout, /--on-error=<option>/)
  })
})
