/**
 * The load of P4, in its own process (forked by bench/proxy.mjs) so the burst of events it reads every second
 * does not delay the parent's `/healthz` probe: `count` raw keep-alive sockets, each sending one streamed
 * `POST /v1/responses` and reading it to its end. The parent sends `{ port, headers, count }`, gets
 * `{ opened }` once every request is written, and `{ summary }` when every stream ended or it sent `stop`.
 */
import { connect } from 'node:net'
import { BODY } from './wrk.mjs'

const BATCH = 100

process.once('message', (config) => void run(config))

async function run({ port, headers, count }) {
  const head =
    `POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    `Content-Length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`
  const streams = []
  let ended = 0
  const done = new Promise((resolve) => {
    const check = () => {
      ended += 1
      if (ended === count) resolve()
    }
    // Connect in batches so the listen backlog never overflows (a dropped SYN costs a 1 s retry).
    const open = async () => {
      for (let first = 0; first < count; first += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, count - first) }, () =>
          openStream(port, head, check),
        )
        streams.push(...(await Promise.all(batch)))
      }
      process.send({ opened: streams.length })
    }
    void open()
  })
  process.on('message', (message) => {
    if (message !== 'stop') return
    for (const stream of streams) stream.socket.destroy()
    report(streams)
  })
  await done
  report(streams)
}

let reported = false
function report(streams) {
  if (reported) return
  reported = true
  const firstEvent = streams
    .filter((stream) => stream.firstEventMs !== null)
    .map((stream) => stream.firstEventMs)
    .sort((a, b) => a - b)
  process.send(
    {
      summary: {
        opened: streams.length,
        ok: streams.filter((stream) => stream.ok).length,
        firstEvent: firstEvent.length,
        servedWithin5s: firstEvent.filter((ms) => ms <= 5000).length,
        completed: streams.filter((stream) => stream.completed).length,
        errors: streams.filter((stream) => stream.error).length,
        firstEventP99: firstEvent[Math.max(0, Math.ceil(0.99 * firstEvent.length) - 1)] ?? null,
      },
    },
    () => process.exit(0),
  )
}

/** Opens one socket, writes the request and watches its answer; resolves once the request is written. */
function openStream(port, head, onEnd) {
  return new Promise((resolve) => {
    const stream = { socket: null, ok: false, firstEventMs: null, completed: false, error: false }
    let tail = ''
    let sawCompleted = false
    let sentAt = 0
    let finished = false
    const finish = () => {
      if (finished) return
      finished = true
      onEnd()
    }
    const socket = connect(port, '127.0.0.1', () => {
      sentAt = performance.now()
      socket.write(head)
      resolve(stream)
    })
    stream.socket = socket
    socket.setEncoding('latin1')
    socket.on('data', (chunk) => {
      const text = tail + chunk
      if (!stream.ok && text.startsWith('HTTP/1.1 200')) stream.ok = true
      if (stream.firstEventMs === null && text.includes('response.output_text.delta')) {
        stream.firstEventMs = performance.now() - sentAt
      }
      if (text.includes('response.completed')) sawCompleted = true
      if (sawCompleted && text.endsWith('0\r\n\r\n')) {
        stream.completed = true
        socket.end()
        finish()
      }
      tail = text.slice(-64)
    })
    socket.on('error', () => {
      stream.error = true
      resolve(stream)
      finish()
    })
    socket.on('close', finish)
  })
}
