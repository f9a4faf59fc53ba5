import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {Config} from '@oclif/core'
import {defaultCacheDir} from '../../src/store/cache-dir.js'
import {burn, ROOT, tmp} from '../helpers.js'

describe('project', () => {
  it('oclif.manifest.json lists exactly the commands in src/commands (never stale)', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))
    // topics are directories: src/commands/daemon/stop.ts is `daemon:stop`
    const files = readdirSync(join(ROOT, 'src', 'commands'), {recursive: true, encoding: 'utf8'})
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.replace(/\.ts$/, '').split('/').join(':'))
      .sort()
    assert.deepEqual(Object.keys(manifest.commands).sort(), files)
  })

  it("the default cache dir is oclif's config.cacheDir", async () => {
    const saved = process.env.BURN_CACHE_DIR
    delete process.env.BURN_CACHE_DIR
    try {
      const config = await Config.load(ROOT)
      assert.equal(defaultCacheDir(), config.cacheDir)
    } finally {
      if (saved !== undefined) process.env.BURN_CACHE_DIR = saved
    }
  })

  it('every command has --help with examples, and --json', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))
    for (const [id, cmd] of Object.entries<{examples?: string[]; flags: Record<string, unknown>}>(manifest.commands)) {
      assert.ok((cmd.examples ?? []).length > 0, `${id} has examples`)
      assert.ok('json' in cmd.flags, `${id} has --json`)
      const r = burn([id, '--help'], {cacheDir: tmp()})
      assert.equal(r.code, 0)
      assert.match(r.stdout, /EXAMPLES/)
    }
  })
})
