import {createRequire} from 'node:module'

/*
 * Node built-ins that a fast path may never need, loaded on first use: a static import loads a
 * module (and what it pulls in) at every start, and the bundles' startup is what `burn run` and
 * `burn batch` pay on every call. node:crypto is ~7 ms (Node's streams stack), node:child_process
 * a few more on top of node:net.
 */
const require = createRequire(import.meta.url)
let cryptoModule: typeof import('node:crypto') | undefined
let childProcesses: typeof import('node:child_process') | undefined

export function nodeCrypto(): typeof import('node:crypto') {
  return (cryptoModule ??= require('node:crypto') as typeof import('node:crypto'))
}

/** A `burn run` answered by the run daemon starts no process. */
export function childProcess(): typeof import('node:child_process') {
  return (childProcesses ??= require('node:child_process') as typeof import('node:child_process'))
}
