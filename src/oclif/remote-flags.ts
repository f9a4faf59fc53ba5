import {Flags} from '@oclif/core'
import {REMOTE_MODES} from '../store/remote/config.js'

/** --remote and --remote-mode: the shared remote cache (README, "Shared remote cache"); override BURN_REMOTE and BURN_REMOTE_MODE. */
export const remoteFlags = {
  remote: Flags.string({
    helpValue: '<url>',
    description: 'Shared remote cache: redis://[user@]host[:port][/db], rediss://... or unix:///path (default: BURN_REMOTE).',
  }),
  'remote-mode': Flags.string({
    options: [...REMOTE_MODES],
    description: 'read-write publishes what is stored; read-only only fetches; off never connects (default: BURN_REMOTE_MODE, read-write).',
  }),
}
