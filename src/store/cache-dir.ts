import {homedir} from 'node:os'
import {join} from 'node:path'

/**
 * The default cache directory, computed exactly as oclif's `config.cacheDir` for bin "burn"
 * (BURN_CACHE_DIR, then XDG on Linux, ~/Library/Caches on macOS, LOCALAPPDATA on Windows).
 * It lives here because `burn run`'s fast path answers without loading oclif; a test checks
 * that both agree.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BURN_CACHE_DIR) return env.BURN_CACHE_DIR
  const home = env.HOME || env.USERPROFILE || homedir()
  if (process.platform === 'darwin') return join(home, 'Library', 'Caches', 'burn')
  if (process.platform === 'win32') return join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), 'burn')
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'burn')
}
