/**
 * burn's library API (README, "API"): `import {openCache, BurnError} from 'burn-cli'`. No oclif
 * here: the library loads only what its calls use.
 */
export {openCache} from './cache.js'
export {BurnError} from '../util/errors.js'
export type {ExitKind} from '../util/exit-codes.js'
export type * from './types.js'
