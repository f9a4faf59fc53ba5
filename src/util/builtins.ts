import {createRequire} from 'node:module'

/*
 * Node built-ins that a fast path may never need, loaded on first use: a static import loads a
 * module (and what it pulls in) at every start, and the bundles' startup is what `burn run` and
 * `burn batch` pay on every call, and every other command loads all commands' modules (oclif's
 * explicit discovery). node:crypto is ~7 ms (Node's streams stack); node:child_process, node:net
 * and node:v8 a few ms with what they pull in (dgram, heap utilities). `burn list` loads neither
 * node:crypto, node:child_process nor node:v8 (node:net it does: the run client imports it).
 * node:tls (~12 ms) only a `rediss://` remote with a private CA needs.
 */
const require = createRequire(import.meta.url)
let cryptoModule: typeof import('node:crypto') | undefined
let childProcesses: typeof import('node:child_process') | undefined
let v8Module: typeof import('node:v8') | undefined
let netModule: typeof import('node:net') | undefined
let tlsModule: typeof import('node:tls') | undefined

export function nodeCrypto(): typeof import('node:crypto') {
  return (cryptoModule ??= require('node:crypto') as typeof import('node:crypto'))
}

/** A `burn run` answered by the run daemon starts no process. */
export function childProcess(): typeof import('node:child_process') {
  return (childProcesses ??= require('node:child_process') as typeof import('node:child_process'))
}

export function nodeV8(): typeof import('node:v8') {
  return (v8Module ??= require('node:v8') as typeof import('node:v8'))
}

export function nodeNet(): typeof import('node:net') {
  return (netModule ??= require('node:net') as typeof import('node:net'))
}

export function nodeTls(): typeof import('node:tls') {
  return (tlsModule ??= require('node:tls') as typeof import('node:tls'))
}
