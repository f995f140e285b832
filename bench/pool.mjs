/**
 * How fast the account pool answers, through the real proxy over HTTP (issue #5's figures):
 * - `exhausted`: every account is cooling down, so each request gets `429 ERR_POOL_EXHAUSTED` with the reason and
 *   the reset time; the round trip must be immediate (target: under 50 ms), never a wait for the reset.
 * - `pick`: what choosing an account costs a request, measured on the pool alone (acquire + report of a success)
 *   with three usable accounts under each strategy, per call.
 * One process, loopback only, a keep-alive client sending sequentially; stops by itself.
 *
 * Usage: node bench/pool.mjs [--requests 2000] [--rounds 5]    (after `npm run build`)
 * Prints lines such as `POOL exhausted_p50_ms=0.21 p99_ms=0.45 (5 rounds …) target=met`.
 */
import { Agent, request } from 'node:http'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
  },
  strict: false,
})
const requests = Number(values.requests)
const rounds = Number(values.rounds)
const dist = await import(new URL('../dist/index.js', import.meta.url).href)
const { AccountPool, MemoryCredentialStore, MemoryPoolStateStore, Secret, startProxy } = dist

function account(id, now) {
  return {
    id,
    label: null,
    email: `${id}@example.com`,
    plan: 'plus',
    auth: {
      kind: 'chatgpt',
      idToken: Secret.from(`id-${id}`),
      accessToken: Secret.from(`at-${id}`),
      refreshToken: Secret.from(`rt-${id}`),
      expiresAt: null,
      lastRefresh: now,
    },
    status: 'active',
    statusReason: null,
    addedAt: now,
    lastUsedAt: null,
  }
}

async function poolOf(strategy, cooling) {
  const now = Date.now()
  const store = new MemoryCredentialStore()
  const state = new MemoryPoolStateStore()
  for (const id of ['acc_a', 'acc_b', 'acc_c']) {
    await store.put(account(id, now))
    if (cooling) {
      await state.update(id, (health) => ({
        ...health,
        cooldownUntil: now + 3_600_000,
        cooldownReason: 'usage_limit',
        updatedAt: now,
      }))
    }
  }
  return new AccountPool({ store, state, strategy })
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

function median(list) {
  const sorted = [...list].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

async function exhaustedRound() {
  const pool = await poolOf('sticky', true)
  // The backend is never reached: the pool refuses before any upstream call.
  const backend = { createResponse: () => Promise.reject(new Error('unreachable')) }
  const proxy = await startProxy({
    upstream: { kind: 'pool', pool, tokens: null, backend },
  })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const body = JSON.stringify({ model: 'gpt-5.4', input: 'hi', stream: true })
  const times = []
  let refused = 0
  try {
    for (let index = 0; index < requests; index += 1) {
      const started = process.hrtime.bigint()
      const status = await new Promise((resolve, reject) => {
        const req = request(
          `${proxy.url}/v1/responses`,
          {
            method: 'POST',
            agent,
            headers: {
              'content-type': 'application/json',
              'x-proxy-token': proxy.token.reveal(),
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode))
          },
        )
        req.on('error', reject)
        req.end(body)
      })
      times.push(Number(process.hrtime.bigint() - started) / 1e6)
      if (status === 429) refused += 1
    }
  } finally {
    agent.destroy()
    await proxy.close()
    await pool.close()
  }
  if (refused !== requests) throw new Error(`expected ${requests} refusals, got ${refused}`)
  times.sort((a, b) => a - b)
  return { p50: percentile(times, 50), p99: percentile(times, 99) }
}

async function pickRound(strategy) {
  const pool = await poolOf(strategy, false)
  const started = process.hrtime.bigint()
  for (let index = 0; index < requests; index += 1) {
    const lease = await pool.acquire({})
    await lease.report({ kind: 'success', quota: null })
  }
  const perCall = Number(process.hrtime.bigint() - started) / 1e3 / requests
  await pool.close()
  return perCall
}

const load = loadavg()[0].toFixed(2)
const exhausted = []
const picks = { sticky: [], 'round-robin': [], 'least-used': [] }
for (let round = 0; round < rounds; round += 1) {
  exhausted.push(await exhaustedRound())
  for (const strategy of Object.keys(picks)) picks[strategy].push(await pickRound(strategy))
}
const p50s = exhausted.map((round) => round.p50)
const p99s = exhausted.map((round) => round.p99)
const p99 = median(p99s)
console.log(
  `POOL exhausted_p50_ms=${median(p50s).toFixed(2)} p99_ms=${p99.toFixed(2)} (${rounds} rounds × ${requests} requests, p99 min ${Math.min(...p99s).toFixed(2)} max ${Math.max(...p99s).toFixed(2)}; load ${load}) target=${p99 < 50 ? 'met' : 'missed'}`,
)
for (const [strategy, list] of Object.entries(picks)) {
  console.log(
    `POOL pick_us strategy=${strategy} ${median(list).toFixed(1)} (${rounds} rounds, min ${Math.min(...list).toFixed(1)} max ${Math.max(...list).toFixed(1)})`,
  )
}
