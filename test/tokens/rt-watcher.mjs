/**
 * The RT battery's reader (SECURITY.md RT-07, RT-10), in a worker thread so the test's event loop (which also runs
 * the simulator) cannot delay it: every 5 ms it opens accounts.json, checks the open file's mode is 0600, reads it
 * and parses it. It reports each new generation of the account's tokens (first seen, the access token's expiry,
 * and whether the refresh token changed) and each status change at once, and its counts when asked.
 *
 * workerData: {path, accountId}
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'

const { path, accountId } = workerData
const counts = { reads: 0, parseFailures: 0, modeViolations: 0, missing: 0, maxGapMs: 0 }
let lastAccess = null
let lastRefresh = null
let lastStatus = null
let lastReadAt = null

function readOnce() {
  const now = Date.now()
  if (lastReadAt !== null) counts.maxGapMs = Math.max(counts.maxGapMs, now - lastReadAt)
  lastReadAt = now
  let text
  let mode
  try {
    const fd = openSync(path, 'r')
    try {
      mode = fstatSync(fd).mode & 0o777
      text = readFileSync(fd, 'utf8')
    } finally {
      closeSync(fd)
    }
  } catch (error) {
    counts.missing += 1
    parentPort.postMessage({ type: 'read-error', code: error.code ?? String(error), at: now })
    return
  }
  counts.reads += 1
  if (mode !== 0o600) counts.modeViolations += 1
  let json
  try {
    json = JSON.parse(text)
  } catch {
    counts.parseFailures += 1
    return
  }
  const account = Array.isArray(json.accounts)
    ? json.accounts.find((entry) => entry.id === accountId)
    : undefined
  if (account === undefined || account.auth?.kind !== 'chatgpt') {
    counts.missing += 1
    return
  }
  if (account.auth.accessToken !== lastAccess) {
    parentPort.postMessage({
      type: 'generation',
      at: now,
      expiresAt: account.auth.expiresAt === null ? null : Date.parse(account.auth.expiresAt),
      rotatedRefreshToken: lastRefresh !== null && account.auth.refreshToken !== lastRefresh,
    })
    lastAccess = account.auth.accessToken
    lastRefresh = account.auth.refreshToken
  }
  const status = `${account.status}:${account.statusReason ?? ''}`
  if (status !== lastStatus) {
    parentPort.postMessage({
      type: 'status',
      at: now,
      status: account.status,
      reason: account.statusReason,
    })
    lastStatus = status
  }
}

const timer = setInterval(readOnce, 5)
parentPort.on('message', (message) => {
  if (message === 'stop') {
    clearInterval(timer)
    parentPort.postMessage({ type: 'counts', ...counts })
    parentPort.close()
  }
})
readOnce()
