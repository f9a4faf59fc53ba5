/*
 * What a runner process is for, told through its environment: runner.ts sets these variables
 * when it forks runner-main.ts, which reads them. Each is set or removed for every runner, so a
 * runner never inherits one from burn's own environment (a runner without the call channel's
 * pipe must not look for one).
 */
const ENGINE = 'BURN_RUNNER_ENGINE'
/** Jobs and answers travel over the call channel, the runner's fd 4 (call-channel.ts). */
const CALLS = 'BURN_RUNNER_CALLS'
/** The runner makes a few jobs and ends (register's compiles): wasm-flags.ts tunes QuickJS for it. */
const FEW_CALLS = 'BURN_RUNNER_FEW_CALLS'

export interface RunnerRole {
  engine: 'v8' | 'quickjs'
  calls?: boolean
  fewCalls?: boolean
}

/** A copy of `env` that tells a runner its role. */
export function withRunnerRole(env: NodeJS.ProcessEnv, role: RunnerRole): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {...env, [ENGINE]: role.engine}
  for (const [name, on] of [
    [CALLS, role.calls],
    [FEW_CALLS, role.fewCalls],
  ] as const) {
    if (on) out[name] = '1'
    else delete out[name]
  }
  return out
}

/** This runner's role, as its parent set it. */
export function runnerRole(env: NodeJS.ProcessEnv = process.env): RunnerRole {
  return {engine: env[ENGINE] === 'quickjs' ? 'quickjs' : 'v8', calls: env[CALLS] === '1', fewCalls: env[FEW_CALLS] === '1'}
}
