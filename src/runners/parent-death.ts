import {existsSync} from 'node:fs'
import {Worker} from 'node:worker_threads'

/*
 * A process that runs a script (a `burn run` child, a run daemon's runner, a register or batch
 * runner) must die with the process supervising it: its deadline and memory limit live in that
 * supervisor, so an orphan would run an untrusted script with no limit at all. Nothing in the
 * runner's own event loop can be relied on for that (a script in a sync loop never yields), so:
 *  - on Linux the kernel does it: the runner is started through util-linux's `setpriv
 *    --pdeathsig KILL`, which asks for SIGKILL when the supervisor's thread dies (whatever
 *    killed it, -9 included) and then execs node: measured, it adds well under a millisecond
 *    to a start (`node bench/run.mjs`);
 *  - elsewhere, or without setpriv, a worker thread of the runner polls its parent PID and
 *    SIGKILLs its own process once the parent changed (reparented: the supervisor is gone).
 *    A thread costs ~30 ms of CPU at each start and ~9 MB, so it is only the fallback.
 * Either way the runner dies within WATCH_MS of its supervisor. (A supervisor that dies in the
 * instant between the spawn and the runner's start leaves the fallback none the wiser.)
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv']
const WATCH_MS = 200

let setpriv: string | null | undefined

/** setpriv's path when runners are tied to their parent by the kernel. BURN_PARENT_WATCH=thread forces the fallback (tests). */
function setprivPath(): string | undefined {
  setpriv ??=
    process.platform === 'linux' && process.env.BURN_PARENT_WATCH !== 'thread' ? (SETPRIV.find((p) => existsSync(p)) ?? null) : null
  return setpriv ?? undefined
}

/** How to start node with these flags so that the process dies with this one: spawn(execPath, [...execArgv, script, ...]). */
export function tiedNode(execArgv: string[]): {execPath: string; execArgv: string[]} {
  const sp = setprivPath()
  return sp
    ? {execPath: sp, execArgv: ['--pdeathsig', 'KILL', '--', process.execPath, ...execArgv]}
    : {execPath: process.execPath, execArgv}
}

/** In a runner, first thing: unless the kernel ties it to its parent, a thread that ends it when the parent is gone. */
export function watchParent(): void {
  if (setprivPath()) return
  const code = `const {workerData: parent} = require('node:worker_threads')
setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL') }, ${WATCH_MS})`
  new Worker(code, {eval: true, workerData: process.ppid}).unref()
}
