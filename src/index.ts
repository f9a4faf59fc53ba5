import Batch from './commands/batch.js'
import DaemonStatus from './commands/daemon/status.js'
import DaemonStop from './commands/daemon/stop.js'
import Forget from './commands/forget.js'
import Gc from './commands/gc.js'
import List from './commands/list.js'
import Pull from './commands/pull.js'
import Push from './commands/push.js'
import Register from './commands/register.js'
import RemoteStatus from './commands/remote/status.js'
import Run from './commands/run.js'
import Show from './commands/show.js'
import Stats from './commands/stats.js'
import Verify from './commands/verify.js'

/**
 * Every command, for oclif's explicit command discovery (package.json `oclif.commands`): this
 * module is bundled with @oclif/core into one file (scripts/bundle.mjs), which bin/run.js loads,
 * so a command starts without oclif's ~100 small CommonJS files.
 */
export const COMMANDS = {
  batch: Batch,
  'daemon:status': DaemonStatus,
  'daemon:stop': DaemonStop,
  forget: Forget,
  gc: Gc,
  list: List,
  pull: Pull,
  push: Push,
  register: Register,
  'remote:status': RemoteStatus,
  run: Run,
  show: Show,
  stats: Stats,
  verify: Verify,
}

export {execute, run} from '@oclif/core'
