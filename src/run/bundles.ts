import {fileURLToPath} from 'node:url'

// The single-file bundles in dist/fast (scripts/bundle.mjs). This module sits one level below
// dist/, like the bundles themselves, so the same relative URL is right whether it runs as
// tsc emitted it (dist/cli/bundles.js) or inlined into a bundle (dist/fast/*.js).
export const RUN_CHILD = fileURLToPath(new URL('../fast/run-child.cjs', import.meta.url))
export const DAEMON_JS = fileURLToPath(new URL('../fast/daemon.js', import.meta.url))
