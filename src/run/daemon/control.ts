import {nodeNet} from '../../util/builtins.js'
import {socketProblem} from '../../store/daemon-trust.js'
import {frame, FrameReader} from './frames.js'

// A daemon that does not answer within this is not asked again (burn daemon stop then goes by its lock).
const ASK_MS = 2000

/**
 * `burn daemon stop`'s request to the daemon at `socket` (an S frame): it finishes the calls it
 * serves and exits. Resolves to the token of the lock it holds, which it sends back as proof;
 * undefined when nothing answered. Only a socket of this user's is asked.
 */
export function askToStop(socket: string): Promise<string | undefined> {
  try {
    if (socketProblem(socket)) return Promise.resolve(undefined)
  } catch {
    return Promise.resolve(undefined)
  }
  return new Promise((resolve) => {
    const sock = nodeNet().createConnection(socket)
    const reader = new FrameReader()
    let token: string | undefined
    const timer = setTimeout(() => sock.destroy(), ASK_MS)
    sock.on('data', (chunk: Buffer) => {
      try {
        for (const f of reader.push(chunk)) if (f.type === 's') token = f.payload.toString()
      } catch {
        sock.destroy()
      }
    })
    sock.on('error', () => {})
    sock.on('close', () => {
      clearTimeout(timer)
      resolve(token)
    })
    sock.write(frame('S', ''))
  })
}
