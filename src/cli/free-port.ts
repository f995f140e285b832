/**
 * Finding a free loopback port, for the demo's sign-in callback: the simulator must register the callback's
 * redirect URI before the sign-in binds it, so the port is chosen first.
 */
import { createServer } from 'node:net'

/** A loopback TCP port that was free a moment ago. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address ? address.port : 0
      probe.close(() => {
        resolve(port)
      })
    })
  })
}
