/**
 * The `bare` contender of bench/app-server.mjs (P6): the least a Node app-server can do — a `ws` server on
 * `node:http` that verifies the upgrade's HS256 bearer token with jose (alg pinned, exp, iss, aud) and answers
 * every JSON-RPC request with one fixed result shaped like `account/read` with nobody signed in. No method
 * table, no store, no limits: the floor of Node + ws + jose on this machine, beside which our server's figures
 * can be read. Run as a child: argv `<port> <secret-file> <issuer> <audience>`; exits on SIGTERM.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { jwtVerify } from 'jose'
import { WebSocketServer } from 'ws'

const [port, secretFile, issuer, audience] = process.argv.slice(2)
const key = new TextEncoder().encode(readFileSync(secretFile, 'utf8').replace(/\r?\n$/, ''))
const RESULT = { account: null, requiresOpenaiAuth: true }

const server = createServer((_req, res) => {
  res.writeHead(404).end()
})
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
server.on('upgrade', async (req, socket, head) => {
  const token = /^bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
  try {
    if (token === undefined) throw new Error('missing')
    await jwtVerify(token, key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      issuer,
      audience,
    })
  } catch {
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    return
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data) => {
      const message = JSON.parse(data)
      if (message.id === undefined) return
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: RESULT }))
    })
  })
})
server.listen(Number(port), '127.0.0.1')
process.on('SIGTERM', () => process.exit(0))
