// `npm run lint`: typescript-eslint's recommended rules plus the project's size limits
// (docs/architecture.md, "Rules"): no function over 80 lines, no line over 140 columns
// (Prettier formats; this catches what it cannot wrap: long strings and comments).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/', 'dist-test/', 'node_modules/', 'examples/', 'coverage/', 'reports/', '.stryker-tmp/']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', {max: 80, skipBlankLines: true, skipComments: true, IIFEs: true}],
      'max-len': ['error', {code: 140, ignoreUrls: true}],
    },
  },
  {
    files: ['test/**/*.ts'],
    // Tests read the CLI's --json output as untyped data.
    rules: {
      'max-len': ['error', {code: 140, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true}],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        __dirname: 'readonly',
        module: 'writable',
        require: 'readonly',
        performance: 'readonly',
      },
    },
  },
  {
    // bin/package.json makes bin/*.js CommonJS (bin/run.js says why)
    files: ['bin/*.js'],
    languageOptions: {sourceType: 'commonjs', globals: {__dirname: 'readonly'}},
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },
)
