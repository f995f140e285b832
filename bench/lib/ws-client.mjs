/**
 * The WebSocket client side of bench/app-server.mjs (P6): HS256 bearer tokens minted with jose, one JSON-RPC
 * connection driven strictly sequentially (one request in flight, each round trip timed), and full WebSocket
 * handshakes (upgrade with a fresh `Authorization: Bearer <jwt>`, open, close) on raw sockets at a given
 * concurrency. The same client code measures every contender, so its own cost is in every figure alike.
 * permessage-deflate is never offered (no compression negotiated, so neither side pays for it).
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { SignJWT } from 'jose'
import WebSocket from 'ws'

export const JWT_ISSUER = 'codex-broker-bench'
export const JWT_AUDIENCE = 'codex-app-server'

/** Writes a private shared-secret file (64 base64 characters) into `dir`; answers `{ path, secret }`. */
export function writeSharedSecret(dir) {
  const secret = randomBytes(48).toString('base64')
  const path = join(dir, 'ws-secret')
  writeFileSync(path, `${secret}\n`, { mode: 0o600 })
  chmodSync(path, 0o600)
  return { path, secret }
}

/** `count` distinct HS256 tokens (each its own `jti`), valid for 30 minutes, with the bench's iss and aud. */
export async function mintTokens(secret, count) {
  const key = new TextEncoder().encode(secret)
  const tokens = []
  for (let index = 0; index < count; index += 1) {
    tokens.push(
      await new SignJWT({ sub: 'bench' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(JWT_ISSUER)
        .setAudience(JWT_AUDIENCE)
        .setIssuedAt()
        .setJti(randomBytes(9).toString('base64url'))
        .setExpirationTime('30m')
        .sign(key),
    )
  }
  return tokens
}

/** A free loopback port (bound, then released; the contender binds it right after). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Opens one authenticated connection; rejects with the status and body of a refused upgrade. */
export function open(url, token, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
    })
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => reject(new Error(`upgrade refused: ${res.statusCode} ${body.trim()}`)))
      ws.terminate()
    })
    ws.once('error', reject)
  })
}

/** Retries {@link open} until the server accepts (it may still be starting); answers the open socket. */
export async function waitOpen(url, token, child, timeoutMs = 20_000) {
  const until = performance.now() + timeoutMs
  let last = null
  while (performance.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${url}: the server exited (${child.exitCode ?? child.signalCode})`)
    }
    try {
      return await open(url, token)
    } catch (error) {
      last = error
      if (String(error.message).startsWith('upgrade refused')) throw error
      await sleep(20)
    }
  }
  throw new Error(`${url} never accepted a connection: ${last?.message}`)
}

/**
 * A JSON-RPC client over an open socket: `call(method, params)` answers the whole response message (result or
 * error), `notify(method, params)` sends a notification; other messages (the server's notifications) are ignored.
 */
export function rpc(ws) {
  let nextId = 0
  const pending = new Map()
  ws.on('message', (data) => {
    const message = JSON.parse(data)
    if (message.id === undefined || message.id === null) return
    const resolve = pending.get(message.id)
    if (resolve === undefined) return
    pending.delete(message.id)
    resolve(message)
  })
  ws.once('close', () => {
    for (const resolve of pending.values()) resolve({ error: { message: 'connection closed' } })
    pending.clear()
  })
  return {
    call(method, params) {
      nextId += 1
      const id = nextId
      return new Promise((resolve) => {
        pending.set(id, resolve)
        ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
      })
    },
    notify(method, params) {
      ws.send(
        JSON.stringify(
          params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params },
        ),
      )
    },
    close() {
      return new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve()
        ws.once('close', resolve)
        ws.close(1000)
      })
    },
  }
}

/** `initialize` then the `initialized` notification, as the official server requires before other methods. */
export async function initialize(client) {
  const answer = await client.call('initialize', {
    clientInfo: { name: 'codex-broker-bench', title: 'codex-broker bench', version: '0.0.0' },
  })
  if (answer.error) throw new Error(`initialize failed: ${JSON.stringify(answer.error)}`)
  client.notify('initialized')
  return answer.result
}

/**
 * `count` sequential calls of `method`; answers the round-trip times in µs, ascending, and the number of error
 * answers. Throws when the first answer is an error (the method would not be measured at all).
 */
export async function sequentialCalls(client, method, params, count) {
  const times = new Float64Array(count)
  let errors = 0
  for (let index = 0; index < count; index += 1) {
    const started = performance.now()
    const answer = await client.call(method, params)
    times[index] = (performance.now() - started) * 1000
    if (answer.error) {
      if (index === 0)
        throw new Error(`${method} answered an error: ${JSON.stringify(answer.error)}`)
      errors += 1
    }
  }
  return { times: times.sort(), errors }
}

/** A masked close frame with status 1000, as a client must send it (RFC 6455 §5.3, §5.5.1). */
const CLOSE_FRAME = (() => {
  const mask = randomBytes(4)
  const frame = Buffer.from([0x88, 0x82, ...mask, 0x03, 0xe8])
  frame[6] ^= mask[0]
  frame[7] ^= mask[1]
  return frame
})()

/**
 * One full handshake on a raw socket, the load generator's side kept as small as it can be so that the server's
 * side is what is measured: the upgrade request with `Authorization: Bearer <token>`, the `101` status line
 * checked, a close frame sent, and the server's close (its close frame, then the end of the TCP connection)
 * awaited. The `ws` client costs ~0.7–0.9 ms of CPU per handshake on this machine class, which alone would cap the
 * rate near 1,100–1,500/s. Resolves, or rejects with the refusal's status line.
 */
export function rawHandshake(port, token, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let head = ''
    let upgraded = false
    const timer = setTimeout(() => socket.destroy(new Error('handshake timed out')), timeoutMs)
    socket.on('data', (chunk) => {
      if (upgraded) return
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      const status = head.slice(0, head.indexOf('\r\n'))
      if (!status.startsWith('HTTP/1.1 101')) {
        socket.destroy(new Error(`upgrade refused: ${status} ${head.slice(end + 4).trim()}`))
        return
      }
      upgraded = true
      socket.write(CLOSE_FRAME)
    })
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.once('close', (hadError) => {
      clearTimeout(timer)
      if (hadError) return
      if (upgraded) resolve()
      else reject(new Error('connection closed before the upgrade'))
    })
    socket.write(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        `Authorization: Bearer ${token}\r\n\r\n`,
    )
  })
}

/**
 * `tokens.length` full handshakes ({@link rawHandshake}: upgrade with one fresh token each, open, close handshake
 * completed) with `concurrency` of them under way at once; answers `{ perSecond, errors, firstError }`.
 */
export async function handshakes(url, tokens, concurrency) {
  const port = Number(new URL(url).port)
  let next = 0
  let errors = 0
  let firstError = null
  const worker = async () => {
    for (;;) {
      const index = next
      next += 1
      if (index >= tokens.length) return
      try {
        await rawHandshake(port, tokens[index])
      } catch (error) {
        errors += 1
        firstError ??= error.message
      }
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (performance.now() - started) / 1000
  return { perSecond: (tokens.length - errors) / seconds, errors, firstError }
}
