#!/usr/bin/env node
// Development entry: the same as run.js, against a fresh build (`npm run build` first). ESM,
// hence .mjs: bin/package.json makes the .js files here CommonJS (run.js says why).
const {execute} = await import('@oclif/core')
await execute({development: true, dir: import.meta.url})
