/**
 * One "broker process" of the RT battery (test/tokens/rt-multiprocess.test.ts, SECURITY.md group H). It runs the
 * built package (dist/, what users run): a TokenManager over a FileCredentialStore in the shared home, refreshing
 * against the simulator with the real refresh request of src/oauth. It loops: getAccessToken, then a real
 * `GET {backend}/wham/usage` with the token; a 401 gets one recoverUnauthorized and one retry. It reports to the
 * parent over IPC: the token manager's own log events (refresh.start / ok / failed / interrupted, never a token),
 * every user-visible failure at once, and its request counts every 250 ms. SIGKILL may strike at any instruction.
 *
 * With `failpoint: "F3"` the worker SIGKILLs itself right after the issuer's answer to its first refresh arrives
 * and before anything is written (SECURITY.md RT failpoint F3), through the injected `fetch` of the issuer config —
 * the token manager itself has no test hooks.
 *
 * argv[2]: JSON {home, issuer, clientId, backendBase, accountId, proactiveWindowMs, pauseMs, failpoint?}
 */
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'

const { TokenManager, FileCredentialStore, createLogger, isBrokerError } = await import(
  new URL('../../dist/index.js', import.meta.url).href
)

const config = JSON.parse(process.argv[2] ?? '{}')
const send = (message) => {
  if (process.connected) process.send(message)
}

const events = new Writable({
  write(chunk, _encoding, callback) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue
      const entry = JSON.parse(line)
      send({
        type: 'event',
        event: entry.event,
        reason: entry.reason,
        code: entry.code,
        at: entry.time,
      })
    }
    callback()
  },
})

/** The F3 failpoint: the answer has arrived (the issuer has rotated), nothing is written yet. */
async function fetchWithFailpoint(input, init) {
  const response = await fetch(input, init)
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
  if (config.failpoint === 'F3' && new URL(url).pathname === '/oauth/token') {
    process.kill(process.pid, 'SIGKILL')
  }
  return response
}

const store = new FileCredentialStore({ home: config.home })
const tokens = new TokenManager({
  store,
  issuer: { issuer: config.issuer, clientId: config.clientId, fetch: fetchWithFailpoint },
  logger: createLogger({ level: 'info', destination: events }),
  proactiveWindowMs: config.proactiveWindowMs,
})

const counts = { ok: 0, recovered: 0 }
let stopping = false
process.on('message', (message) => {
  if (message === 'stop') stopping = true
})
process.on('disconnect', () => {
  stopping = true
})
const reporter = setInterval(() => {
  send({ type: 'counts', ...counts })
}, 250)

async function usage(grant) {
  const response = await fetch(`${config.backendBase}/wham/usage`, {
    headers: {
      authorization: `Bearer ${grant.accessToken.reveal()}`,
      'chatgpt-account-id': grant.chatgptAccountId,
    },
  })
  await response.arrayBuffer()
  return response.status
}

function fail(code) {
  send({ type: 'failure', code, at: Date.now() })
}

send({ type: 'ready', pid: process.pid })
while (!stopping) {
  try {
    let grant = await tokens.getAccessToken(config.accountId)
    let status = await usage(grant)
    if (status === 401) {
      grant = await tokens.recoverUnauthorized(config.accountId, grant.accessToken)
      status = await usage(grant)
      if (status === 200) counts.recovered += 1
    }
    if (status === 200) counts.ok += 1
    else fail(`http_${status}`)
  } catch (error) {
    fail(isBrokerError(error) ? error.code : `${error?.name ?? 'unknown'}: ${error?.message ?? ''}`)
    await sleep(50)
  }
  await sleep(config.pauseMs)
}
clearInterval(reporter)
send({ type: 'counts', ...counts })
process.disconnect?.()
