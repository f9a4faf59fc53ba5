import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {assertNoDebris, sha} from '../fixtures/store.js'
import {burn, json, register, tmp, writeScript} from '../helpers.js'

/*
 * What a careless or hostile user would try, one table over every command. Each case asserts
 * the exit code and all of stdout and stderr, byte for byte (for oclif's own usage errors, the
 * message before the usage text it appends), and after each the store is clean: verify finds
 * nothing and nothing is left half-written (assertNoDebris).
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
  /** all of stdout; none when absent */
  out?: string
  /** all of stderr; none when absent. With `usage`, all of it before the usage text oclif appends. */
  err?: string
  usage?: boolean
  input?: string | Buffer
}

/** A register of a new source under `name`: the file, and the line register prints for it. */
function fresh(file: string, content: string | Buffer, name: string): {args: string[]; out: string} {
  const path = f(file, content)
  return {args: ['register', path, '--name', name], out: `${sha(content)}  compiled  ${name}  ${path}\n`}
}
/** The file name a script's stack frames carry: its hash's first 12 digits. */
const frame = (content: string) => `script-${sha(content).slice(0, 12)}.js`
const NAME_RULE = "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, with no '..' and no path separators"
const REF_RULE = 'expected a full hash, a unique prefix of at least 6 hex digits, or a name (to add a file, use `burn register <file>`)'
const NO_MATCH = (ref: string) =>
  `Error: no script matches "${ref}"; \`burn list\` shows what is registered, \`burn register <file>\` adds one\n`
const oclif = (...lines: string[]) => lines.map((l) => ` ›   ${l}\n`).join('') + ' ›   See more help with --help\n'
const SIZE = 'expected a positive size such as 64MiB, 500MB, 2GiB or 1048576'
const DURATION = 'expected a positive duration such as 500ms, 5s, 12h or 30d'

const nested = '['.repeat(200_000) + ']'.repeat(200_000)
const initThrow = 'module.exports = (() => { throw new TypeError("init failed") })()\n'
const rejects = 'module.exports = async () => { throw new Error("async no") }\n'
const cases: Case[] = [
  // sources
  {name: 'an empty file', ...fresh('empty.js', '', 'empty'), code: 0},
  {name: 'running the empty script', args: ['run', 'empty'], code: 0, out: '{}\n'},
  {
    name: 'a binary source',
    args: ['register', f('bin.js', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0xff, 0xfe]))],
    code: 4,
    err: `Error: ${join(dir, 'bin.js')}:1:1: SyntaxError: Invalid or unexpected token\n`,
  },
  {
    name: 'a non-UTF-8 source (latin1 bytes)',
    ...fresh('latin1.js', Buffer.concat([Buffer.from('module.exports = "caf'), Buffer.from([0xe9]), Buffer.from('"\n')]), 'latin1'),
    code: 0,
  },
  {name: 'running the non-UTF-8 script', args: ['run', 'latin1'], code: 0, out: '"caf\uFFFD"\n'},
  {name: 'a source with a BOM', ...fresh('bom.js', '\uFEFFmodule.exports = "bom"\n', 'bom'), code: 0},
  {name: 'running the BOM script', args: ['run', 'bom'], code: 0, out: '"bom"\n'},
  {name: 'CRLF line endings', ...fresh('crlf.js', 'module.exports = (x) => {\r\n  return x + 1\r\n}\r\n', 'crlf'), code: 0},
  {
    name: 'a CRLF syntax error keeps its line',
    args: ['register', f('crlfbad.js', 'module.exports = 1\r\nlet x = ;\r\n')],
    code: 4,
    err: `Error: ${join(dir, 'crlfbad.js')}:2:9: SyntaxError: Unexpected token ';'\n`,
  },
  {name: 'a 1 MB single line', ...fresh('long.js', `module.exports = ${JSON.stringify('q'.repeat(1 << 20))}.length\n`, 'long'), code: 0},
  {name: 'running the 1 MB line', args: ['run', 'long'], code: 0, out: '1048576\n'},
  {name: 'a script that exports nothing', ...fresh('nothing.js', 'const a = 1\n', 'nothing'), code: 0},
  {name: 'running it gives the empty exports object', args: ['run', 'nothing'], code: 0, out: '{}\n'},
  {
    name: 'an export that throws at module initialisation',
    args: ['register', f('initthrow.js', initThrow)],
    code: 5,
    err:
      `Error: ${join(dir, 'initthrow.js')}: module initialisation threw: TypeError: init failed\n` +
      `${frame(initThrow)}:1\n${initThrow}${' '.repeat(26)}^\n\nTypeError: init failed\n` +
      `    at ${frame(initThrow)}:1:33\n    at ${frame(initThrow)}:1:64\n`,
  },
  {
    name: 'a non-JSON result (symbol)',
    args: ['run', register(cache, f('sym.js', 'module.exports = () => ({s: Symbol("x")})\n'))],
    code: 7,
    err: 'Error: result is not JSON: a symbol at $.s\n',
  },
  {
    name: 'a non-JSON result (function at the top)',
    args: ['run', register(cache, f('fn.js', 'module.exports = () => () => 1\n'))],
    code: 7,
    err: 'Error: result is not JSON: a function at $\n',
  },
  {
    name: 'a thrown non-Error value',
    args: ['run', register(cache, f('throwstr.js', 'module.exports = () => { throw {code: 42} }\n'))],
    code: 5,
    err: 'Error: thrown value: {"code":42}\n',
  },
  {
    name: 'a rejected promise',
    args: ['run', register(cache, f('reject.js', rejects))],
    code: 5,
    err: `Error: Error: async no\n    at module.exports (${frame(rejects)}:1:38)\n`,
  },
  {
    name: 'a directory given as a file',
    args: ['register', join(dir, 'adir')],
    code: 2,
    err: `Error: ${join(dir, 'adir')} is a directory; pass files or a glob such as '${join(dir, 'adir')}/*.js'\n`,
  },
  {
    name: 'a glob matching nothing',
    args: ['register', join(dir, 'nomatch-*.js')],
    code: 3,
    err: `Error: no file matches ${join(dir, 'nomatch-*.js')}\n`,
  },
  {
    name: 'register with no file',
    args: ['register'],
    code: 2,
    err: oclif('Error: Missing 1 required arg:', 'file  files, globs, or - for stdin'),
    usage: true,
  },
  {name: 'stdin twice', args: ['register', '-', '-'], code: 2, err: 'Error: stdin (-) can be given only once\n'},
  {
    name: '--name with two files',
    args: ['register', join(dir, 'ok.js'), join(dir, 'empty.js'), '--name', 'two'],
    code: 2,
    err: 'Error: --name needs exactly one script, got 2\n',
  },
  {
    name: 'a name too long',
    args: ['register', join(dir, 'ok.js'), '--name', 'n'.repeat(200)],
    code: 2,
    err: `Error: invalid name "${'n'.repeat(200)}": ${NAME_RULE}\n`,
  },
  {
    name: 'a name with a space',
    args: ['register', join(dir, 'ok.js'), '--name', 'my script'],
    code: 2,
    err: `Error: invalid name "my script": ${NAME_RULE}\n`,
  },
  {
    name: 'a name with a NUL byte',
    args: ['register', join(dir, 'ok.js'), '--name', 'a\u0001b'],
    code: 2,
    err: `Error: invalid name "a\\u0001b": ${NAME_RULE}\n`,
  },
  {
    name: 'an unknown engine on register',
    args: ['register', join(dir, 'ok.js'), '--engine', 'spidermonkey'],
    code: 2,
    err: oclif('Error: Expected --engine=spidermonkey to be one of: v8, quickjs'),
  },
  // input data
  {
    name: 'malformed JSON input',
    args: ['run', 'ok', '--input', '{"a":1,}'],
    code: 7,
    err: 'Error: invalid JSON input: Expected double-quoted property name in JSON at position 7\n',
  },
  {
    name: 'an empty --input',
    args: ['run', 'ok', '--input', ''],
    code: 7,
    err: 'Error: invalid JSON input: Unexpected end of JSON input\n',
  },
  {
    name: 'JSON input with a BOM',
    args: ['run', 'ok', '--input', '\uFEFF1'],
    code: 7,
    err: 'Error: invalid JSON input: Unexpected token \'\uFEFF\', "\uFEFF1" is not valid JSON\n',
  },
  {
    name: 'huge JSON input (10 MB)',
    args: [
      'run',
      register(cache, f('len.js', 'module.exports = (a) => a.length\n')),
      '--input-file',
      f('huge.json', JSON.stringify(Array.from({length: 1_000_000}, (_, i) => i))),
    ],
    code: 0,
    out: '1000000\n',
  },
  {
    name: 'deeply nested JSON input echoed back',
    args: ['run', 'ok', '--input-file', f('nested.json', nested)],
    code: 7,
    err: 'Error: result is not JSON: nesting too deep to serialize at $\n',
  },
  {
    name: 'binary garbage on stdin',
    args: ['run', 'ok'],
    input: Buffer.from([0, 1, 2, 0xff]),
    code: 7,
    err: 'Error: invalid JSON input: Unexpected token \'\u0000\', "\u0000\u0001\u0002\uFFFD" is not valid JSON\n',
  },
  {
    name: 'an input file that is a directory',
    args: ['run', 'ok', '--input-file', join(dir, 'adir')],
    code: 7,
    err: `Error: cannot read input file ${join(dir, 'adir')}: EISDIR: illegal operation on a directory, read\n`,
  },
  {
    name: 'a missing input file',
    args: ['run', 'ok', '--input-file', join(dir, 'nope.json')],
    code: 3,
    err: `Error: input file ${join(dir, 'nope.json')} does not exist\n`,
  },
  // references
  {name: 'a malformed reference', args: ['run', 'xyz!'], code: 2, err: `Error: invalid script reference "xyz!": ${REF_RULE}\n`},
  {name: 'a 5-digit prefix is only a name', args: ['run', ok.slice(0, 5)], code: 3, err: NO_MATCH(ok.slice(0, 5))},
  {name: 'an uppercase hash', args: ['run', ok.toUpperCase()], code: 3, err: NO_MATCH(ok.toUpperCase())},
  {
    name: 'a reference with a newline',
    args: ['run', `${ok}\n`],
    code: 2,
    err: `Error: invalid script reference "${ok}\\n": ${REF_RULE}\n`,
  },
  {name: 'a dot-dot name', args: ['show', '..'], code: 2, err: `Error: invalid script reference "..": ${REF_RULE}\n`},
  {
    name: 'run with no script',
    args: ['run'],
    code: 2,
    err: oclif('Error: Missing 1 required arg:', 'script  hash, unique prefix or name'),
    usage: true,
  },
  {name: 'show of an unknown script', args: ['show', 'ghost'], code: 3, err: NO_MATCH('ghost')},
  {
    name: 'forget with no script',
    args: ['forget'],
    code: 2,
    err: oclif('Error: Missing 1 required arg:', 'script  hashes, unique prefixes or names'),
    usage: true,
  },
  {name: 'forget of an unknown script is a no-op', args: ['forget', 'ghost'], code: 0, out: 'ghost: not registered (nothing to do)\n'},
  // flags and limits
  {name: 'an unknown flag', args: ['list', '--colour'], code: 2, err: oclif('Error: Nonexistent flag: --colour'), usage: true},
  {name: 'a negative timeout', args: ['run', 'ok', '--timeout', '-5s'], code: 2, err: `Error: invalid --timeout "-5s": ${DURATION}\n`},
  {name: 'a zero timeout', args: ['run', 'ok', '--timeout', '0'], code: 2, err: 'Error: invalid --timeout "0": must be longer than zero\n'},
  {
    name: 'an absurd timeout is clamped, not overflowed',
    args: ['run', 'ok', '--input', '1', '--timeout', '99999999d'],
    code: 0,
    out: '1\n',
  },
  {name: 'a nonsense memory size', args: ['run', 'ok', '--memory', 'lots'], code: 2, err: `Error: invalid --memory "lots": ${SIZE}\n`},
  {
    name: 'a zero memory size',
    args: ['run', 'ok', '--memory', '0'],
    code: 2,
    err: 'Error: invalid --memory "0": must be at least 1 byte\n',
  },
  {name: 'a negative memory size', args: ['run', 'ok', '--memory', '-1MB'], code: 2, err: `Error: invalid --memory "-1MB": ${SIZE}\n`},
  {
    name: 'a fractional fuel',
    args: ['run', 'ok', '--engine', 'quickjs', '--fuel', '1.5'],
    code: 2,
    err: 'Error: invalid --fuel "1.5": expected a positive whole number\n',
  },
  {
    name: 'fuel on the v8 engine',
    args: ['run', 'ok', '--fuel', '1000'],
    code: 2,
    err: 'Error: --fuel applies to the quickjs engine only; add --engine quickjs, or use --timeout on v8\n',
  },
  {
    name: 'fuel on a batch of a v8 script (its registered engine)',
    args: ['batch', 'rows', '--fuel', '1000'],
    input: '[1]',
    code: 2,
    err: 'Error: --fuel applies to the quickjs engine only; add --engine quickjs, or use --timeout on v8\n',
  },
  {
    name: 'fuel on a batch with --engine v8',
    args: ['batch', 'rows', '--engine', 'v8', '--fuel', '1000'],
    input: '[1]',
    code: 2,
    err: 'Error: --fuel applies to the quickjs engine only; add --engine quickjs, or use --timeout on v8\n',
  },
  {
    name: 'a zero max-output',
    args: ['run', 'ok', '--max-output', '0'],
    code: 2,
    err: 'Error: invalid --max-output "0": must be at least 1 byte\n',
  },
  {
    name: 'conflicting input flags',
    args: ['run', 'ok', '--input', '1', '--input-file', 'x.json'],
    code: 2,
    err: oclif(
      'Error: The following errors occurred:',
      '  --input-file=x.json cannot also be provided when using --input',
      '  --input=1 cannot also be provided when using --input-file',
    ),
  },
  // batch, gc, verify, stats
  {
    name: 'batch of a non-array with chunk size 0',
    args: ['batch', 'rows', '--chunk-size', '0', '--input-format', 'json'],
    input: '{"a":1}',
    code: 7,
    err: "Error: input must be a JSON array; it starts with '{' at line 1\n",
  },
  {
    name: 'batch with a result that is not an array',
    args: ['batch', 'obj'],
    input: '1\n2\n',
    code: 7,
    err: 'Error: chunk 1 (rows 1-2): script must return an array; got object\n',
  },
  {
    name: 'batch of malformed NDJSON',
    args: ['batch', 'rows'],
    input: '1\n2\n{oops\n',
    code: 7,
    err: "Error: chunk 1 (rows 1-3): row 3 (line 3): invalid JSON: Expected property name or '}' in JSON at position 1\n",
  },
  {
    name: 'batch with a negative chunk size',
    args: ['batch', 'rows', '--chunk-size', '-1'],
    input: '1\n',
    code: 2,
    err: oclif('Error: Parsing --chunk-size ', '\tExpected an integer greater than or equal to 0 but received: -1'),
  },
  {
    name: 'batch with zero concurrency',
    args: ['batch', 'rows', '--concurrency', '0'],
    input: '1\n',
    code: 2,
    err: oclif('Error: Parsing --concurrency ', '\tExpected an integer greater than or equal to 1 but received: 0'),
  },
  {
    name: 'batch with an unknown on-error mode',
    args: ['batch', 'rows', '--on-error', 'ignore'],
    input: '1\n',
    code: 2,
    err: oclif('Error: Expected --on-error=ignore to be one of: fail, skip, emit'),
  },
  {name: 'gc with a nonsense size', args: ['gc', '--max-size', 'big'], code: 2, err: `Error: invalid --max-size "big": ${SIZE}\n`},
  {
    name: 'gc with a nonsense age',
    args: ['gc', '--older-than', 'forever'],
    code: 2,
    err: `Error: invalid --older-than "forever": ${DURATION}\n`,
  },
  {name: 'stats with an unknown flag', args: ['stats', '--reset'], code: 2, err: oclif('Error: Nonexistent flag: --reset'), usage: true},
  {name: 'verify with an extra argument', args: ['verify', 'extra'], code: 2, err: oclif('Error: Unexpected argument: extra')},
]

describe('bad input corpus', () => {
  it('has at least 40 cases', () => assert.ok(cases.length >= 40))
  for (const c of cases) {
    it(`${c.name} -> exit ${c.code}`, () => {
      const r = burn(c.args, {cacheDir: cache, input: c.input})
      assert.equal(r.code, c.code, `stdout: ${r.stdout.slice(0, 500)}\nstderr: ${r.stderr.slice(0, 500)}`)
      assert.equal(r.stdout, c.out ?? '')
      if (c.usage) {
        // oclif's usage text of the command follows: its first line, not its wording, is checked
        const usage = `${c.err}\nUSAGE\n  $ burn ${c.args[0]} `
        assert.equal(r.stderr.slice(0, usage.length), usage)
      } else assert.equal(r.stderr, c.err ?? '')
      if (process.env.NO_VERIFY) return
      assertNoDebris(cache)
    })
  }

  it('a cache dir that is a file -> exit 8 for every command', () => {
    const file = f('cachefile', 'x')
    for (const args of [['list'], ['stats'], ['run', 'ok'], ['register', join(dir, 'ok.js')], ['verify']]) {
      const r = burn(args, {cacheDir: file})
      assert.equal(r.code, 8, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, /is not a directory; remove it or pass another --cache-dir/)
      assert.deepEqual(
        [r.stdout, r.stderr],
        ['', `Error: the cache directory ${file} is not a directory; remove it or pass another --cache-dir\n`],
      )
    }
  })

  it('--json errors are JSON on stdout with the same code', () => {
    const r = burn(['run', 'ok', '--input', '{', '--json'], {cacheDir: cache})
    assert.equal(r.code, 7)
    assert.equal(json(r).error.kind, 'badData')
    assert.equal(r.stderr, '')
    assert.deepEqual(json(r), {
      error: {code: 7, kind: 'badData', message: "invalid JSON input: Expected property name or '}' in JSON at position 1", hash: ok},
    })
  })
})
void writeFileSync
