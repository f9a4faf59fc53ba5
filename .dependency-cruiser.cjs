// The dependency rule of docs/architecture.md, checked by `npm run lint`. Layers, top to bottom:
//   commands/                           oclif commands: parse, call, render
//   oclif/, api/                        the base command and oclif flag glue; the library API (peers: no oclif in api/)
//   run/, batch/, register/, maintenance/  what the commands do (peers: none imports another)
//   cli/                                argv specs, limits parsing, rendering (no oclif)
//   store/, runners/                    the on-disk store; runner processes and their supervision
//   engines/                            v8 and quickjs: compile and execute one script
//   util/                               leaf helpers
// A module may import its own folder and any layer below its own, never one above.
const layers = [['commands'], ['oclif', 'api'], ['run', 'batch', 'register', 'maintenance'], ['cli'], ['store', 'runners'], ['engines'], ['util']]
const folder = (f) => `^src/${f}/`
const forbidden = []
layers.forEach((layer, i) => {
  const above = layers.slice(0, i).flat()
  for (const f of layer) {
    const peers = layer.filter((p) => p !== f)
    const banned = [...above, ...peers]
    if (banned.length === 0) continue
    forbidden.push({
      name: `${f}-imports-down-only`,
      comment: `src/${f}/ may import only its own folder and the layers below it (docs/architecture.md)`,
      severity: 'error',
      from: {path: folder(f)},
      to: {path: `^src/(${banned.join('|')})/`},
    })
  }
})
forbidden.push(
  {
    name: 'no-oclif-below-commands',
    comment: 'only src/oclif/ and src/commands/ may import @oclif/core: the library and the fast paths load without it',
    severity: 'error',
    from: {path: '^src/', pathNot: '^src/(oclif|commands)/|^src/index\\.ts$'},
    to: {path: '@oclif/core'},
  },
  {name: 'no-circular', severity: 'error', from: {}, to: {circular: true}},
)

module.exports = {
  forbidden,
  options: {
    doNotFollow: {path: 'node_modules'},
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    exclude: {path: '^(dist|dist-test|node_modules)/'},
  },
}
