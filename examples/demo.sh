#!/usr/bin/env bash
# The main job on the bundled examples, in a fresh private cache: register once, run many times.
set -euo pipefail
cd "$(dirname "$0")/.."
export BURN_CACHE_DIR="$(mktemp -d)/burn-cache"
trap 'rm -rf "$(dirname "$BURN_CACHE_DIR")"' EXIT
burn() { node bin/run.js "$@"; }

echo "== register (compiles once)"
burn register examples/transform.js --name transform
burn register examples/sum.js --name sum
echo "== register again (a hit)"
burn register examples/transform.js
echo "== run by name"
burn run transform --input '{"id":1,"name":"ada","x":20,"tags":["a","b"]}'
echo '[1,2,3,4]' | burn run sum
echo "== batch: rows in, rows out, in order"
burn register examples/map-rows.js --name map-rows
burn batch map-rows --input-file examples/rows.ndjson
echo "== untrusted code runs in the quickjs sandbox"
burn register examples/transform.js --engine quickjs
burn run transform --engine quickjs --input '{"id":2,"name":"grace","x":7}' --timeout 1s --memory 64MiB
echo "== list, stats, verify"
burn list
burn stats
burn verify
echo "== the run daemon that later runs went through (it exits when this cache is removed)"
burn daemon status
