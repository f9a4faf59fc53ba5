import type {Hook} from '@oclif/core'

/**
 * @oclif/plugin-autocomplete writes its completion scripts under config.cacheDir, which for burn is
 * the store itself: `burn verify` would report them as damage (group-readable files) and a fresh
 * cache dir would hold something that is not a store. For its commands only, the plugin is pointed
 * at config.dataDir instead (BURN_DATA_DIR, else ~/.local/share/burn), so the files land in
 * <dataDir>/autocomplete. It is done through BURN_CACHE_DIR because a command gets a Config loaded
 * afresh from the environment, not the one this hook sees; nothing else runs in these processes.
 */
const hook: Hook.Init = async function (opts) {
  if (opts.id === 'autocomplete' || opts.id?.startsWith('autocomplete:')) process.env.BURN_CACHE_DIR = opts.config.dataDir
}

export default hook
