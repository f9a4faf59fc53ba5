import {remoteSpec} from '../cli/spec.js'
import {oclifFlags} from './flags.js'

/** --remote and --remote-mode (cli/spec.ts: the same spec `burn run`'s fast path parses). */
export const remoteFlags = oclifFlags(remoteSpec)
