#!/usr/bin/env node
// Development entry: the same as run.js, against a fresh build (`npm run build` first).
const {execute} = await import('@oclif/core')
await execute({development: true, dir: import.meta.url})
