/**
 * Finding a free loopback port for a sign-in callback, chosen before it is bound (the issuer must know the
 * redirect URI first). Ports come from below the kernel's ephemeral range (32768–60999 on Linux), because a port
 * the kernel hands out for "port 0" can be taken a moment later as the local end of any outgoing connection.
 */
import { randomInt } from 'node:crypto'
import { createServer } from 'node:net'

const LOW = 20_000
const HIGH = 32_000

/** A loopback TCP port below the ephemeral range that was free a moment ago, distinct from `exclude`. */
export async function freeLoopbackPort(exclude: readonly number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const port = randomInt(LOW, HIGH)
    if (exclude.includes(port)) continue
    if (await canBind(port)) return port
  }
  throw new Error('No free loopback port found between 20000 and 32000.')
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => {
      resolve(false)
    })
    probe.listen(port, '127.0.0.1', () => {
      probe.close(() => {
        resolve(true)
      })
    })
  })
}
