#!/usr/bin/env node
// Development entry: the same as run.js (ESM, hence .mjs: bin/package.json makes .js files here CommonJS), against a fresh build (`npm run build` first).
const {execute} = await import('@oclif/core')
await execute({development: true, dir: import.meta.url})
