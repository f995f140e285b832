/**
 * How many streamed `codex/responses` answers per second the simulator itself serves, so later benchmarks can
 * show it is not their bottleneck. The simulator runs in a child process (its own event loop, as a real upstream
 * would); this process signs an account in over HTTP, then for each scenario keeps C requests in flight on
 * keep-alive connections for a fixed time and reports requests/s and latency percentiles. Scenarios take turns
 * within each round (A B C D, A B C D, …) so machine noise hits them alike. Loopback only; stops by itself.
 *
 * Usage: node bench/sim.mjs [--seconds 5] [--rounds 3] [--client http|raw]    (after `npm run build`)
 * Prints lines such as `SIM rps c=32 chunks=1: 9123 (3 rounds, min 8900 max 9400)`.
 *
 * The default client is `node:http` with a keep-alive Agent. On a small machine that client costs more CPU per
 * request than the simulator does, so it caps the figure; `--client raw` drives the same requests over bare
 * keep-alive sockets (one request in flight per socket, the answer read to its last chunk, like wrk) to show the
 * simulator's own ceiling.
 */
import { fork } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const DIST_CANDIDATES = ['../dist/sim/index.js', '../dist/sim/index.mjs']

if (process.argv.includes('--serve')) {
  await serve()
} else {
  await main()
}

/** Child mode: start a simulator, report its URLs to the parent, live until told to stop. */
async function serve() {
  const { startSimulator } = await import(distEntry())
  const sim = await startSimulator()
  process.send?.({ backendBase: sim.backendBase, issuer: sim.issuer, controlBase: sim.controlBase })
  process.on('message', (message) => {
    if (message === 'stop') void sim.close().then(() => process.exit(0))
  })
}

async function main() {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      client: { type: 'string', default: 'http' },
    },
  })
  const client = values.client
  if (client !== 'http' && client !== 'raw') fail('--client must be http or raw')
  const seconds = Number(values.seconds)
  const rounds = Number(values.rounds)
  if (!(seconds > 0 && seconds <= 60 && Number.isInteger(rounds) && rounds > 0 && rounds <= 20)) {
    fail('--seconds must be in (0, 60] and --rounds an integer in [1, 20]')
  }
  const { CODEX_CLIENT_ID, CODEX_SCOPE } = await import(distEntry())
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: 'inherit' })
  const urls = await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)))
  })
  try {
    const defaultChunks = (await controlPost(urls, '/config', {})).streamChunks
    const account = await signIn(urls, CODEX_CLIENT_ID, CODEX_SCOPE)
    const scenarios = []
    for (const connections of [1, 32]) {
      for (const chunks of [1, defaultChunks]) scenarios.push({ connections, chunks, runs: [] })
    }
    console.log(
      `sim bench (${client} client): ${scenarios.length} scenarios × ${rounds} rounds × ${seconds} s, load ${loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')}`,
    )
    for (let round = 0; round < rounds; round += 1) {
      for (const scenario of scenarios) {
        await controlPost(urls, '/config', { streamChunks: scenario.chunks })
        const run = client === 'raw' ? loadRaw : load
        scenario.runs.push(await run(urls, account, scenario.connections, seconds * 1000))
      }
    }
    for (const { connections, chunks, runs } of scenarios) {
      const label = `c=${connections} chunks=${chunks}`
      const rps = runs.map((run) => run.rps)
      const errors = runs.reduce((sum, run) => sum + run.errors, 0)
      console.log(
        `SIM rps ${label}: ${Math.round(median(rps))} (${runs.length} rounds, min ${Math.round(Math.min(...rps))} max ${Math.round(Math.max(...rps))}${errors ? `, ${errors} errors` : ''})`,
      )
      const p50 = runs.map((run) => run.p50)
      const p99 = runs.map((run) => run.p99)
      console.log(
        `SIM latency ${label}: p50=${ms(median(p50))} p99=${ms(median(p99))} (${runs.length} rounds, p50 min ${ms(Math.min(...p50))} max ${ms(Math.max(...p50))})`,
      )
    }
    console.log(
      `load after: ${loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')}`,
    )
  } finally {
    child.send('stop')
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.kill()
        resolve()
      }, 2_000)
      child.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}

/** Keeps `connections` requests in flight for `durationMs`; answers rps and latency percentiles (ms). */
async function load(urls, account, connections, durationMs) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const url = new URL(`${urls.backendBase}/codex/responses`)
  const body = requestBody()
  const headers = {
    authorization: `Bearer ${account.accessToken}`,
    'chatgpt-account-id': account.accountId,
    accept: 'text/event-stream',
    'content-type': 'application/json',
    'content-length': body.length,
  }
  const latencies = []
  let errors = 0
  // Warm the connections up before the clock starts.
  await Promise.all(Array.from({ length: connections }, () => once(agent, url, headers, body)))
  const started = performance.now()
  const deadline = started + durationMs
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now()
      const ok = await once(agent, url, headers, body)
      if (ok) latencies.push(performance.now() - t0)
      else errors += 1
    }
  }
  await Promise.all(Array.from({ length: connections }, worker))
  const elapsed = performance.now() - started
  agent.destroy()
  return summarise(latencies, elapsed, errors)
}

/** The `--client raw` twin of `load`: bare keep-alive sockets, one request in flight on each. */
async function loadRaw(urls, account, connections, durationMs) {
  const url = new URL(`${urls.backendBase}/codex/responses`)
  const body = requestBody()
  const head =
    `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\n` +
    `authorization: Bearer ${account.accessToken}\r\nchatgpt-account-id: ${account.accountId}\r\n` +
    `accept: text/event-stream\r\ncontent-type: application/json\r\n` +
    `content-length: ${body.length}\r\n\r\n`
  const wire = Buffer.concat([Buffer.from(head, 'latin1'), body])
  const latencies = []
  let errors = 0
  let started = 0
  let deadline = Infinity
  const sockets = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise((resolve, reject) => {
          const socket = connect(Number(url.port), url.hostname, () => resolve(socket))
          socket.once('error', reject)
          socket.setNoDelay(true)
        }),
    ),
  )
  // Each socket loops: write a request, read its answer to the end, repeat until the deadline.
  const runSocket = (socket) =>
    new Promise((resolve) => {
      let received = ''
      let t0 = 0
      const send = () => {
        if (performance.now() >= deadline) {
          socket.destroy()
          resolve()
          return
        }
        received = ''
        t0 = performance.now()
        socket.write(wire)
      }
      socket.setEncoding('latin1')
      socket.on('data', (chunk) => {
        received += chunk
        const complete = answerComplete(received)
        if (complete === null) return
        if (complete) latencies.push(performance.now() - t0)
        else errors += 1
        send()
      })
      socket.on('error', () => {
        errors += 1
        resolve()
      })
      send()
    })
  // One warm-up request per socket, then the measured run.
  deadline = 0
  await Promise.all(sockets.map((socket) => writeAndWait(socket, wire)))
  latencies.length = 0
  started = performance.now()
  deadline = started + durationMs
  await Promise.all(sockets.map(runSocket))
  return summarise(latencies, performance.now() - started, errors)
}

/** One request on a raw socket, read to its end (the warm-up). */
function writeAndWait(socket, wire) {
  return new Promise((resolve) => {
    let received = ''
    const onData = (chunk) => {
      received += chunk.toString('latin1')
      if (answerComplete(received) === null) return
      socket.off('data', onData)
      resolve()
    }
    socket.on('data', onData)
    socket.write(wire)
  })
}

/** null while an HTTP/1.1 answer is incomplete; then whether it was a finished 200 stream. */
function answerComplete(text) {
  const headerEnd = text.indexOf('\r\n\r\n')
  if (headerEnd < 0) return null
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headerEnd))
  if (length) {
    return text.length >= headerEnd + 4 + Number(length[1]) ? false : null
  }
  if (!text.endsWith('\r\n0\r\n\r\n')) return null
  return text.startsWith('HTTP/1.1 200') && text.includes('event: response.completed')
}

function requestBody() {
  return Buffer.from(
    JSON.stringify({
      model: 'gpt-5.4',
      instructions: 'You are a coding agent.',
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'ping' }] }],
      tools: [],
      stream: true,
      store: false,
    }),
  )
}

function summarise(latencies, elapsedMs, errors) {
  latencies.sort((a, b) => a - b)
  return {
    rps: (latencies.length / elapsedMs) * 1000,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    errors,
  }
}

/** One request read to its end; true when it was a 200 stream that reached `response.completed`. */
function once(agent, url, headers, body) {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      let tail = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => {
        tail = (tail + chunk).slice(-4096)
      })
      res.on('end', () => {
        resolve(res.statusCode === 200 && tail.includes('event: response.completed'))
      })
      res.on('error', () => resolve(false))
    })
    req.on('error', () => resolve(false))
    req.end(body)
  })
}

/** Signs an account in through `/oauth/authorize` (auto-approve) and the code exchange. */
async function signIn(urls, clientId, scope) {
  const email = 'bench@example.com'
  const { accountId } = await controlPost(urls, '/accounts', { email, plan: 'pro' })
  await controlPost(urls, '/config', { autoApprove: email })
  const verifier = randomBytes(64).toString('base64url')
  const redirectUri = 'http://127.0.0.1:1455/auth/callback'
  const state = randomBytes(32).toString('base64url')
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    scope,
  })
  const authorize = await fetch(`${urls.issuer}/oauth/authorize?${params}`, { redirect: 'manual' })
  const location = authorize.headers.get('location')
  if (authorize.status !== 302 || !location) fail(`authorize answered ${authorize.status}`)
  const code = new URL(location).searchParams.get('code')
  const token = await fetch(`${urls.issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: clientId,
      code: code ?? '',
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
  })
  if (token.status !== 200) fail(`token endpoint answered ${token.status}: ${await token.text()}`)
  const { access_token: accessToken } = await token.json()
  return { accountId, accessToken }
}

async function controlPost(urls, path, body) {
  const response = await fetch(`${urls.controlBase}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (response.status !== 200) fail(`${path} answered ${response.status}: ${await response.text()}`)
  return response.json()
}

function distEntry() {
  for (const candidate of DIST_CANDIDATES) {
    const url = new URL(candidate, import.meta.url)
    if (existsSync(url)) return url.href
  }
  fail('dist/sim is missing: run `npm run build` first.')
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function ms(value) {
  return `${value.toFixed(2)}ms`
}

function fail(message) {
  console.error(`bench/sim.mjs: ${message}`)
  process.exit(1)
}
