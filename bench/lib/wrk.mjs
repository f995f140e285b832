/**
 * Runs `wrk` (1 thread) with a Lua script that turns its requests into the benchmark's `POST /v1/responses`
 * (JSON body, the contender's headers), and parses its summary: requests/s, transfer/s, the `--latency`
 * percentiles (wrk records latency in microseconds, so p50/p99 have 1 µs resolution) and any errors.
 */
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const WRK = '/usr/bin/wrk'
export const BODY = '{"model":"gpt-5.4","input":"hi","stream":true}'

/** Writes the Lua script for `headers` (and a POST `body`, the Responses request by default) into `dir`. */
export function wrkScript(dir, name, headers, body = BODY) {
  const lines = ['wrk.method = "POST"', `wrk.body = ${luaString(body)}`]
  for (const [key, value] of Object.entries(headers)) {
    lines.push(`wrk.headers[${luaString(key)}] = ${luaString(value)}`)
  }
  const path = join(dir, `${name}.lua`)
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

function luaString(text) {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/**
 * One wrk run: `connections` keep-alive connections for `seconds` against `url`.
 * Answers `{ rps, mbps, p50, p99, requests, errors }` (latencies in ms, transfer in MiB/s).
 */
export function runWrk({ url, script, connections, seconds, timeoutSeconds = 10 }) {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    `--timeout`,
    `${timeoutSeconds}s`,
    '--latency',
    '-s',
    script,
    url,
  ]
  return new Promise((resolve, reject) => {
    execFile(WRK, args, { encoding: 'utf8', timeout: (seconds + 60) * 1000 }, (error, stdout) => {
      if (error) reject(new Error(`wrk failed: ${error.message}`))
      else resolve(parseWrk(stdout))
    })
  })
}

/** Parses wrk's summary. */
export function parseWrk(text) {
  const number = (pattern) => {
    const match = pattern.exec(text)
    return match ? Number(match[1]) : Number.NaN
  }
  const percentile = (p) => {
    const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text)
    return match ? toMs(Number(match[1]), match[2]) : Number.NaN
  }
  const transfer = /^Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)\s*$/m.exec(text)
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    text,
  )
  const non2xx = number(/Non-2xx or 3xx responses: (\d+)/)
  let errors = Number.isNaN(non2xx) ? 0 : non2xx
  if (socketErrors) errors += socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0)
  return {
    rps: number(/^Requests\/sec:\s+([\d.]+)/m),
    mbps: transfer ? Number(transfer[1]) * UNITS[transfer[2]] : Number.NaN,
    p50: percentile(50),
    p99: percentile(99),
    requests: number(/^\s+(\d+) requests in/m),
    errors,
  }
}

/** wrk prints sizes in powers of 1024; answers MiB. */
const UNITS = { B: 1 / 1024 / 1024, KB: 1 / 1024, MB: 1, GB: 1024 }

function toMs(value, unit) {
  if (unit === 'us') return value / 1000
  if (unit === 's') return value * 1000
  return value
}
