// The least any `batch --memo` re-run must do, and nothing more: read the input, read every rows
// pack of the script and checksum it (xxh64, as burn does), and write the results' share of the
// packs to a file. It neither cuts rows nor compares them, and starts no runner: its time is a
// floor under a re-run's own work. bench/batch-memo.mjs runs it beside burn.
// Usage: node bench/memo-floor.mjs <input> <packs dir> <output file>
import {closeSync, openSync, readdirSync, readSync, statSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import xxhash from 'xxhash-wasm'

const [input, packs, outFile] = process.argv.slice(2)
const {h64Raw} = await xxhash()
const buf = Buffer.allocUnsafe(1 << 20)
const fd = openSync(input, 'r')
let lines = 0
for (let n; (n = readSync(fd, buf, 0, buf.length)) > 0;)
  for (let i = buf.indexOf(10); i !== -1 && i < n; i = buf.indexOf(10, i + 1)) lines++
closeSync(fd)
const out = openSync(outFile, 'w')
let pack = Buffer.allocUnsafe(2 << 20)
let sum = 0n
for (const name of readdirSync(packs).sort()) {
  const size = statSync(join(packs, name)).size
  if (pack.length < size) pack = Buffer.allocUnsafe(size)
  const pfd = openSync(join(packs, name), 'r')
  readSync(pfd, pack, 0, size, 0)
  closeSync(pfd)
  sum ^= h64Raw(pack.subarray(0, size))
  // (a pack is ~70% rows, ~30% results: bench/batch-memo.mjs's rows)
  writeSync(out, pack, Math.floor(size * 0.7), size - Math.floor(size * 0.7))
}
closeSync(out)
process.stdout.write(JSON.stringify({lines, sum: sum.toString(16)}) + '\n')
