import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {burn, json, register, tmp, writeScript} from '../helpers.js'

/*
 * What a careless or hostile user would try, one table over every command. Each case asserts
 * the exit code and the message, and after each the store still verifies clean.
 */
const cache = tmp()
const dir = tmp()
const f = (name: string, content: string | Buffer) => writeScript(dir, name, content)
const ok = register(cache, f('ok.js', 'module.exports = (x) => x\n'), ['--name', 'ok'])
const rows = register(cache, f('rows.js', 'module.exports = (rows) => rows.map((r) => ({r}))\n'), ['--name', 'rows'])
const obj = register(cache, f('obj.js', 'module.exports = (rows) => ({not: "an array"})\n'), ['--name', 'obj'])
void rows
void obj
mkdirSync(join(dir, 'adir'))

interface Case {
  name: string
  args: string[]
  code: number
  out?: RegExp // on stdout
  err?: RegExp // on stderr
  input?: string | Buffer
}

const nested = '['.repeat(200_000) + ']'.repeat(200_000)
const cases: Case[] = [
  // sources
  {name: 'an empty file', args: ['register', f('empty.js', ''), '--name', 'empty'], code: 0, out: /compiled {2}empty/},
  {name: 'running the empty script', args: ['run', 'empty'], code: 0, out: /^\{\}\n$/},
  {
    name: 'a binary source',
    args: ['register', f('bin.js', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0xff, 0xfe]))],
    code: 4,
    err: /bin\.js:1:\d+: SyntaxError: Invalid or unexpected token/,
  },
  {
    name: 'a non-UTF-8 source (latin1 bytes)',
    args: [
      'register',
      f('latin1.js', Buffer.concat([Buffer.from('module.exports = "caf'), Buffer.from([0xe9]), Buffer.from('"\n')])),
      '--name',
      'latin1',
    ],
    code: 0,
  },
  {name: 'running the non-UTF-8 script', args: ['run', 'latin1'], code: 0, out: /^"caf\uFFFD"\n$/},
  {name: 'a source with a BOM', args: ['register', f('bom.js', '\uFEFFmodule.exports = "bom"\n'), '--name', 'bom'], code: 0},
  {name: 'running the BOM script', args: ['run', 'bom'], code: 0, out: /^"bom"\n$/},
  {
    name: 'CRLF line endings',
    args: ['register', f('crlf.js', 'module.exports = (x) => {\r\n  return x + 1\r\n}\r\n'), '--name', 'crlf'],
    code: 0,
  },
  {
    name: 'a CRLF syntax error keeps its line',
    args: ['register', f('crlfbad.js', 'module.exports = 1\r\nlet x = ;\r\n')],
    code: 4,
    err: /crlfbad\.js:2:9: SyntaxError: Unexpected token ';'/,
  },
  {
    name: 'a 1 MB single line',
    args: ['register', f('long.js', `module.exports = ${JSON.stringify('q'.repeat(1 << 20))}.length\n`), '--name', 'long'],
    code: 0,
  },
  {name: 'running the 1 MB line', args: ['run', 'long'], code: 0, out: /^1048576\n$/},
  {name: 'a script that exports nothing', args: ['register', f('nothing.js', 'const a = 1\n'), '--name', 'nothing'], code: 0},
  {name: 'running it gives the empty exports object', args: ['run', 'nothing'], code: 0, out: /^\{\}\n$/},
  {
    name: 'an export that throws at module initialisation',
    args: ['register', f('initthrow.js', 'module.exports = (() => { throw new TypeError("init failed") })()\n')],
    code: 5,
    err: /module initialisation threw: TypeError: init failed/,
  },
  {
    name: 'a non-JSON result (symbol)',
    args: ['run', register(cache, f('sym.js', 'module.exports = () => ({s: Symbol("x")})\n'))],
    code: 7,
    err: /^Error: result is not JSON: a symbol at \$\.s\n$/,
  },
  {
    name: 'a non-JSON result (function at the top)',
    args: ['run', register(cache, f('fn.js', 'module.exports = () => () => 1\n'))],
    code: 7,
    err: /^Error: result is not JSON: a function at \$\n$/,
  },
  {
    name: 'a thrown non-Error value',
    args: ['run', register(cache, f('throwstr.js', 'module.exports = () => { throw {code: 42} }\n'))],
    code: 5,
    err: /^Error: thrown value: \{"code":42\}\n$/,
  },
  {
    name: 'a rejected promise',
    args: ['run', register(cache, f('reject.js', 'module.exports = async () => { throw new Error("async no") }\n'))],
    code: 5,
    err: /^Error: Error: async no\n/,
  },
  {name: 'a directory given as a file', args: ['register', join(dir, 'adir')], code: 2, err: /is a directory; pass files or a glob/},
  {name: 'a glob matching nothing', args: ['register', join(dir, 'nomatch-*.js')], code: 3, err: /^Error: no file matches /},
  {name: 'register with no file', args: ['register'], code: 2, err: /Missing 1 required arg/},
  {name: 'stdin twice', args: ['register', '-', '-'], code: 2, err: /^Error: stdin \(-\) can be given only once\n$/},
  {
    name: '--name with two files',
    args: ['register', join(dir, 'ok.js'), join(dir, 'empty.js'), '--name', 'two'],
    code: 2,
    err: /^Error: --name needs exactly one script, got 2\n$/,
  },
  {
    name: 'a name too long',
    args: ['register', join(dir, 'ok.js'), '--name', 'n'.repeat(200)],
    code: 2,
    err: /^Error: invalid name "n{200}": use 1-128 letters/,
  },
  {
    name: 'a name with a space',
    args: ['register', join(dir, 'ok.js'), '--name', 'my script'],
    code: 2,
    err: /^Error: invalid name "my script"/,
  },
  {name: 'a name with a NUL byte', args: ['register', join(dir, 'ok.js'), '--name', 'a\u0001b'], code: 2, err: /^Error: invalid name/},
  {
    name: 'an unknown engine on register',
    args: ['register', join(dir, 'ok.js'), '--engine', 'spidermonkey'],
    code: 2,
    err: /Expected --engine=spidermonkey to be one of: v8, quickjs/,
  },
  // input data
  {name: 'malformed JSON input', args: ['run', 'ok', '--input', '{"a":1,}'], code: 7, err: /^Error: invalid JSON input: /},
  {
    name: 'an empty --input',
    args: ['run', 'ok', '--input', ''],
    code: 7,
    err: /^Error: invalid JSON input: Unexpected end of JSON input\n$/,
  },
  {name: 'JSON input with a BOM', args: ['run', 'ok', '--input', '\uFEFF1'], code: 7, err: /^Error: invalid JSON input: /},
  {
    name: 'huge JSON input (10 MB)',
    args: [
      'run',
      register(cache, f('len.js', 'module.exports = (a) => a.length\n')),
      '--input-file',
      f('huge.json', JSON.stringify(Array.from({length: 1_000_000}, (_, i) => i))),
    ],
    code: 0,
    out: /^1000000\n$/,
  },
  {
    name: 'deeply nested JSON input echoed back',
    args: ['run', 'ok', '--input-file', f('nested.json', nested)],
    code: 7,
    err: /^Error: result is not JSON: nesting too deep to serialize at \$\n$/,
  },
  {name: 'binary garbage on stdin', args: ['run', 'ok'], input: Buffer.from([0, 1, 2, 0xff]), code: 7, err: /^Error: invalid JSON input: /},
  {
    name: 'an input file that is a directory',
    args: ['run', 'ok', '--input-file', join(dir, 'adir')],
    code: 7,
    err: /^Error: cannot read input file .*adir: EISDIR/,
  },
  {
    name: 'a missing input file',
    args: ['run', 'ok', '--input-file', join(dir, 'nope.json')],
    code: 3,
    err: /^Error: input file .*nope\.json does not exist\n$/,
  },
  // references
  {name: 'a malformed reference', args: ['run', 'xyz!'], code: 2, err: /^Error: invalid script reference "xyz!"/},
  {name: 'a 5-digit prefix is only a name', args: ['run', ok.slice(0, 5)], code: 3, err: /^Error: no script matches/},
  {name: 'an uppercase hash', args: ['run', ok.toUpperCase()], code: 3, err: /^Error: no script matches/},
  {name: 'a reference with a newline', args: ['run', `${ok}\n`], code: 2, err: /^Error: invalid script reference/},
  {name: 'a dot-dot name', args: ['show', '..'], code: 2, err: /^Error: invalid script reference "\.\."/},
  {name: 'run with no script', args: ['run'], code: 2, err: /Missing 1 required arg/},
  {name: 'show of an unknown script', args: ['show', 'ghost'], code: 3, err: /^Error: no script matches "ghost"/},
  {name: 'forget with no script', args: ['forget'], code: 2, err: /Missing 1 required arg/},
  {name: 'forget of an unknown script is a no-op', args: ['forget', 'ghost'], code: 0, out: /^ghost: not registered \(nothing to do\)\n$/},
  // flags and limits
  {name: 'an unknown flag', args: ['list', '--colour'], code: 2, err: /Nonexistent flag: --colour/},
  {name: 'a negative timeout', args: ['run', 'ok', '--timeout', '-5s'], code: 2, err: /^Error: invalid --timeout "-5s"/},
  {name: 'a zero timeout', args: ['run', 'ok', '--timeout', '0'], code: 2, err: /^Error: invalid --timeout "0"/},
  {
    name: 'an absurd timeout is clamped, not overflowed',
    args: ['run', 'ok', '--input', '1', '--timeout', '99999999d'],
    code: 0,
    out: /^1\n$/,
  },
  {
    name: 'a nonsense memory size',
    args: ['run', 'ok', '--memory', 'lots'],
    code: 2,
    err: /^Error: invalid --memory "lots": expected a positive size/,
  },
  {name: 'a zero memory size', args: ['run', 'ok', '--memory', '0'], code: 2, err: /^Error: invalid --memory "0"/},
  {name: 'a negative memory size', args: ['run', 'ok', '--memory', '-1MB'], code: 2, err: /^Error: invalid --memory "-1MB"/},
  {
    name: 'a fractional fuel',
    args: ['run', 'ok', '--engine', 'quickjs', '--fuel', '1.5'],
    code: 2,
    err: /^Error: invalid --fuel "1.5": expected a positive whole number/,
  },
  {
    name: 'fuel on the v8 engine',
    args: ['run', 'ok', '--fuel', '1000'],
    code: 2,
    err: /^Error: --fuel applies to the quickjs engine only; add --engine quickjs/,
  },
  {name: 'a zero max-output', args: ['run', 'ok', '--max-output', '0'], code: 2, err: /^Error: invalid --max-output "0"/},
  {
    name: 'conflicting input flags',
    args: ['run', 'ok', '--input', '1', '--input-file', 'x.json'],
    code: 2,
    err: /cannot also be provided when using/,
  },
  // batch, gc, verify, stats
  {
    name: 'batch of a non-array with chunk size 0',
    args: ['batch', 'rows', '--chunk-size', '0', '--input-format', 'json'],
    input: '{"a":1}',
    code: 7,
    err: /input must be a JSON array/,
  },
  {
    name: 'batch with a result that is not an array',
    args: ['batch', 'obj'],
    input: '1\n2\n',
    code: 7,
    err: /script must return an array; got object/,
  },
  {name: 'batch of malformed NDJSON', args: ['batch', 'rows'], input: '1\n2\n{oops\n', code: 7, err: /line 3/},
  {name: 'batch with a negative chunk size', args: ['batch', 'rows', '--chunk-size', '-1'], input: '1\n', code: 2},
  {name: 'batch with zero concurrency', args: ['batch', 'rows', '--concurrency', '0'], input: '1\n', code: 2},
  {name: 'batch with an unknown on-error mode', args: ['batch', 'rows', '--on-error', 'ignore'], input: '1\n', code: 2},
  {name: 'gc with a nonsense size', args: ['gc', '--max-size', 'big'], code: 2, err: /invalid --max-size "big"/},
  {name: 'gc with a nonsense age', args: ['gc', '--older-than', 'forever'], code: 2, err: /invalid --older-than "forever"/},
  {name: 'stats with an unknown flag', args: ['stats', '--reset'], code: 2, err: /Nonexistent flag: --reset/},
  {name: 'verify with an extra argument', args: ['verify', 'extra'], code: 2, err: /Unexpected argument: extra/},
]

describe('bad input corpus', () => {
  it('has at least 40 cases', () => assert.ok(cases.length >= 40))
  for (const c of cases) {
    it(`${c.name} -> exit ${c.code}`, () => {
      const r = burn(c.args, {cacheDir: cache, input: c.input})
      assert.equal(r.code, c.code, `stdout: ${r.stdout.slice(0, 500)}\nstderr: ${r.stderr.slice(0, 500)}`)
      if (c.out) assert.match(r.stdout, c.out)
      if (c.err) assert.match(r.stderr, c.err)
      if (process.env.NO_VERIFY) return
      const v = burn(['verify', '--json'], {cacheDir: cache})
      assert.equal(v.code, 0, `verify after "${c.name}": ${v.stdout.slice(0, 500)}`)
    })
  }

  it('a cache dir that is a file -> exit 8 for every command', () => {
    const file = f('cachefile', 'x')
    for (const args of [['list'], ['stats'], ['run', 'ok'], ['register', join(dir, 'ok.js')], ['verify']]) {
      const r = burn(args, {cacheDir: file})
      assert.equal(r.code, 8, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, /is not a directory; remove it or pass another --cache-dir/)
    }
  })

  it('--json errors are JSON on stdout with the same code', () => {
    const r = burn(['run', 'ok', '--input', '{', '--json'], {cacheDir: cache})
    assert.equal(r.code, 7)
    assert.equal(json(r).error.kind, 'badData')
  })
})
void writeFileSync
