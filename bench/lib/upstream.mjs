/**
 * The upstream stand-in of bench/proxy.mjs: a minimal `node:http` server answering `POST /v1/responses` with an
 * SSE stream, run as a CHILD process (forked with IPC) so it has its own event loop, as a real upstream would.
 * It never looks at the request beyond reading it to its end, so direct and proxied requests cost it the same.
 *
 * Modes (argv[2]):
 * - `small`: one `response.output_text.delta` event and `response.completed` (P1, P2).
 * - `large`: 10 MiB as 1 KiB delta events, written with backpressure, then `response.completed` (P3).
 * - `slow <seconds>`: one delta event per second for <seconds> seconds, then `response.completed` (P4).
 *
 * It reports `{ port }` to its parent once listening and exits on the message `stop` (or when the parent dies).
 */
import { createServer } from 'node:http'

const mode = process.argv[2] ?? 'small'
const slowSeconds = Number(process.argv[3] ?? '60')

const DELTA_PREFIX =
  'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"msg_bench",' +
  '"output_index":0,"content_index":0,"delta":"'
const DELTA_SUFFIX = '"}\n\n'
const COMPLETED = Buffer.from(
  'event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_bench",' +
    '"object":"response","status":"completed","model":"gpt-5.4","output":[],"usage":{"input_tokens":1,' +
    '"output_tokens":1,"total_tokens":2}}}\n\n',
)
const SMALL_DELTA = delta('pong')
/** One event of exactly 1 KiB. */
const KIB_DELTA = delta('x'.repeat(1024 - DELTA_PREFIX.length - DELTA_SUFFIX.length))
const LARGE_EVENTS = (10 * 1024 * 1024) / 1024

function delta(text) {
  return Buffer.from(`${DELTA_PREFIX}${text}${DELTA_SUFFIX}`)
}

const server = createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/responses') {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}')
    return
  }
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    if (mode === 'large') void streamLarge(res)
    else if (mode === 'slow') streamSlow(res)
    else {
      res.write(SMALL_DELTA)
      res.end(COMPLETED)
    }
  })
  req.resume()
})
server.maxRequestsPerSocket = 0
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: server.address().port })
})
process.on('message', (message) => {
  if (message === 'stop') {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  }
})
process.on('disconnect', () => process.exit(0))

async function streamLarge(res) {
  let closed = false
  res.on('close', () => {
    closed = true
  })
  for (let sent = 0; sent < LARGE_EVENTS && !closed; sent += 1) {
    if (!res.write(KIB_DELTA)) {
      await new Promise((resolve) => {
        const done = () => {
          res.off('drain', done)
          res.off('close', done)
          resolve()
        }
        res.on('drain', done)
        res.on('close', done)
      })
    }
  }
  if (!closed) res.end(COMPLETED)
}

function streamSlow(res) {
  let sent = 0
  const timer = setInterval(() => {
    sent += 1
    if (sent > slowSeconds) {
      clearInterval(timer)
      res.end(COMPLETED)
    } else {
      res.write(SMALL_DELTA)
    }
  }, 1000)
  res.on('close', () => {
    clearInterval(timer)
  })
}
