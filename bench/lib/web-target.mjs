// A server for bench/web.mjs in its own process, so the measuring process never competes with it: `hello` is a
// bare node:http hello world (the physical limit of this machine's HTTP stack), `handler` is the web handler
// through its node adapter against a simulator, with one signed session whose cookie is sent to the parent.
import { createServer } from 'node:http'
import { once } from 'node:events'

const kind = process.argv[2]
const port = async (server) => {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return server.address().port
}

if (kind === 'hello') {
  const body = JSON.stringify({ loggedIn: false, account: null })
  const server = createServer((req, res) => {
    req.resume()
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    })
    res.end(body)
  })
  process.send({ port: await port(server) })
} else {
  const { startSimulator } = await import('../../dist/sim/index.js')
  const { createCodexNodeListener } = await import('../../dist/web/adapters/node.js')
  const sim = await startSimulator()
  const listener = createCodexNodeListener({
    cookieSecret: 'bench-cookie-secret-0123456789abcdefghijklmnop',
    basePath: '/api/codex',
    upstream: { kind: 'chatgpt', issuer: sim.issuer, backendBase: sim.backendBase },
  })
  const server = createServer(listener)
  const listening = await port(server)
  const answer = await fetch(`http://127.0.0.1:${listening}/api/codex/session`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'sec-fetch-site': 'same-origin',
      'x-codex-broker': '1',
    },
    body: '{}',
  })
  const cookie = (answer.headers.getSetCookie()[0] ?? '').split(';')[0]
  process.send({ port: listening, cookie })
}
process.on('message', (message) => {
  if (message === 'stop') process.exit(0)
})
