// `npm run mutation`: StrykerJS over the pure modules that have unit tests (issue 15, item 4).
// The tests use node's own runner, compiled by tsc: Stryker instruments the TypeScript sources in
// its sandbox (with `// @ts-nocheck`, so no type checker), `buildCommand` compiles them with the
// tests, and the tap runner runs each compiled test file in its own `node --test-reporter=tap`
// process. Only these modules' own unit test files run: never e2e (far too slow per mutant), and
// no other unit file, since a module-load ("static") mutant runs every listed file. (The lock's
// 8-process race lives in lock-race.test.ts, left to `npm test` for the same reason.)
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [
    'src/util/result.ts',
    // resultCounters and outcomeName only: the rest of outcome.ts does store I/O.
    'src/store/outcome.ts:75-98',
    'src/util/units.ts',
    'src/engines/artifact.ts',
    'src/util/json/array.ts',
    'src/store/lock.ts',
    'src/store/names.ts',
    'src/store/stats/counters.ts',
  ],
  testRunner: 'tap',
  tap: {
    testFiles: [
      'dist-test/test/unit/util/units.test.js',
      'dist-test/test/unit/util/result.test.js',
      'dist-test/test/unit/util/json/array.test.js',
      'dist-test/test/unit/engines/artifact.test.js',
      'dist-test/test/unit/store/lock.test.js',
      'dist-test/test/unit/store/names.test.js',
      'dist-test/test/unit/store/counters.test.js',
    ],
  },
  buildCommand: 'tsc -p test/tsconfig.json',
  // The sandbox needs sources, tests and configs only: build outputs are rebuilt there.
  ignorePatterns: ['dist', 'dist-test', 'reports', 'bench', 'examples', 'docs', '.bench-tmp'],
  coverageAnalysis: 'perTest',
  checkers: [],
  concurrency: 2,
  incremental: false,
  // A mutant that loops or waits forever (a lock never given up, a scanner index never moved) is
  // a timeout, which counts as killed: 3 s over 1.5 times the file's own time keeps those cheap.
  timeoutMS: 3000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  thresholds: {high: 90, low: 75, break: null},
}
