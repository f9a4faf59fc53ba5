import type {LimitFlags} from '../lib/limits.js'

export interface RunFlags extends LimitFlags {
  input?: string
  'input-file'?: string
  pretty?: boolean
  engine?: string
  json?: boolean
  'cache-dir'?: string
}
