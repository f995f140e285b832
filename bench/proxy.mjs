/**
 * Scenarios P1–P4 and P7 (the proxy's cold start) of BENCHMARKS.md: codex-broker's proxy against the physical
 * limit (`direct`: the client talks to the upstream stand-in itself) and, with `--with-codex`, the official Rust
 * proxy (`codex responses-api-proxy`, installed into a temporary folder). Every contender is a separate process
 * started as its user would start it; the upstream stand-in (bench/lib/upstream.mjs) is a `node:http` child.
 * Contenders take turns within each round (A B C, A B C, …); figures are medians over rounds, the 1-minute load
 * average printed beside them. Loopback only; every child is stopped at the end or on SIGINT.
 *
 * How each figure is measured:
 * - P1: `wrk -t1 -c32 -d<seconds>s`, one-event SSE answers; the ratio of requests/s per round. Beside it,
 *   the CPU time each process spent per request (/proc/<pid>/stat), which machine noise moves much less.
 * - P2: the same with `-c1 --latency`; wrk records latency in microseconds, so its p50/p99 (1 µs resolution)
 *   are used as they are; added latency = contender − direct within the same round.
 * - P3: `wrk -t1 -c1` fetching a 10 MiB stream of 1 KiB delta events over and over; its transfer/s per round.
 * - P4: N slow streams (one event per second) opened by a separate client process (bench/lib/slow-client.mjs);
 *   the proxy's RSS is sampled from /proc/<pid>/status (peak = VmHWM), and its event-loop lag is read from
 *   outside: sequential `GET /healthz` round trips every 50 ms, their p99 under load minus their p99 idle.
 * - P7: wall time of `node dist/cli/main.js --version`; and from spawning `codex-broker proxy` until its
 *   server-info file exists and `GET /healthz` answered 204 (2 ms polling).
 *
 * Usage: npm run bench -- proxy [--with-codex] [--seconds 5] [--rounds 5] [--quick]
 *        [--only P1,P2,P3,P4,P7] [--streams 2000] [--stream-seconds 60]     (after `npm run build`)
 */
import { execFileSync, fork } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import {
  cli,
  getStatus,
  installCodex,
  snapshotCli,
  startBroker,
  startRust,
  startUpstream,
  stopAll,
  tempDir,
  timeNode,
  track,
} from './lib/processes.mjs'
import { fmt, load, max, median, min, percentile, target } from './lib/stats.mjs'
import { WRK, runWrk, wrkScript } from './lib/wrk.mjs'

const { values: flags } = parseArgs({
  strict: false,
  options: {
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'with-codex': { type: 'boolean', default: false },
    only: { type: 'string', default: 'P1,P2,P3,P4,P7' },
    streams: { type: 'string' },
    'stream-seconds': { type: 'string' },
  },
})
const quick = flags.quick === true
const seconds = Number(flags.seconds ?? (quick ? 1 : 5))
const rounds = Number(flags.rounds ?? (quick ? 2 : 5))
const streamCount = Number(flags.streams ?? (quick ? 200 : 2000))
const streamSeconds = Number(flags['stream-seconds'] ?? (quick ? 10 : 60))
const only = new Set(String(flags.only).toUpperCase().split(','))
if (!(seconds > 0 && seconds <= 60 && Number.isInteger(rounds) && rounds >= 1 && rounds <= 20)) {
  fail('--seconds must be in (0, 60] and --rounds an integer in [1, 20]')
}
if (!(Number.isInteger(streamCount) && streamCount > 0 && streamSeconds > 0)) {
  fail('--streams and --stream-seconds must be positive')
}
if (!existsSync(join(import.meta.dirname, '..', 'dist', 'cli', 'main.js'))) {
  fail('dist/ is missing: run `npm run build` first')
}
if (!existsSync(WRK)) fail(`${WRK} is missing (Debian package wrk)`)

const P1_CONNECTIONS = 32
const HEALTH_EVERY_MS = 50

try {
  await main()
} finally {
  await stopAll()
}

async function main() {
  console.log(
    `proxy bench: ${rounds} rounds × ${seconds} s, P4 ${streamCount} streams × ${streamSeconds} s, ` +
      `load ${load()}, open files limit ${openFilesLimit()}`,
  )
  snapshotCli()
  console.log(`NOTE measuring ${buildNote()}`)
  let rust = null
  if (flags['with-codex'] === true) {
    const installed = await installCodex()
    if (installed.note) console.log(`NOTE ${installed.note}; the Rust proxy is skipped`)
    else rust = installed.binary
  } else {
    console.log('NOTE without --with-codex: the Rust proxy is not measured (proxy/rust=n/a)')
  }
  if (only.has('P7')) await coldStart(rust)
  if (only.has('P1') || only.has('P2')) await smallStreams(rust)
  if (only.has('P3')) await largeStream(rust)
  if (only.has('P4')) await slowStreams(rust)
  console.log(`load after: ${load()}`)
}

/** Starts the contenders against one upstream; answers `[{ name, url, script, proxy }]`. */
async function contenders(upstream, rust) {
  const dir = tempDir('wrk')
  const broker = await startBroker(upstream.port)
  const list = [
    {
      name: 'direct',
      port: upstream.port,
      pid: upstream.pid,
      script: wrkScript(dir, 'direct', {
        'Content-Type': 'application/json',
        Authorization: 'Bearer sk-bench',
      }),
    },
    {
      name: 'codex-broker',
      port: broker.port,
      pid: broker.pid,
      proxy: broker,
      script: wrkScript(dir, 'broker', {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${broker.token}`,
      }),
    },
  ]
  if (rust !== null) {
    // The Rust proxy takes no client credential: it adds the key it read from stdin to whatever it forwards.
    const proxy = await startRust(rust, upstream.port)
    list.push({
      name: 'rust',
      port: proxy.port,
      pid: proxy.pid,
      proxy,
      script: wrkScript(dir, 'rust', { 'Content-Type': 'application/json' }),
    })
  }
  for (const contender of list) contender.url = `http://127.0.0.1:${contender.port}/v1/responses`
  return list
}

/** P1 and P2: one-event streams at 32 and 1 connections. */
async function smallStreams(rust) {
  const upstream = await startUpstream('small')
  const list = await contenders(upstream, rust)
  const scenarios = [
    { id: 'P1', connections: P1_CONNECTIONS, runs: {} },
    { id: 'P2', connections: 1, runs: {} },
  ].filter((scenario) => only.has(scenario.id))
  for (const contender of list) {
    await runWrk({ url: contender.url, script: contender.script, connections: 32, seconds: 1 })
  }
  const loadStart = load()
  for (let round = 0; round < rounds; round += 1) {
    for (const scenario of scenarios) {
      for (const contender of list) {
        const cpuBefore = cpuMs(contender.pid)
        const run = await runWrk({
          url: contender.url,
          script: contender.script,
          connections: scenario.connections,
          seconds,
        })
        run.cpuUs = ((cpuMs(contender.pid) - cpuBefore) * 1000) / run.requests
        ;(scenario.runs[contender.name] ??= []).push(run)
      }
    }
  }
  const loads = `load ${loadStart}→${load()}`
  for (const scenario of scenarios) {
    const runs = scenario.runs
    const ratio = (a, b, key) => runs[a].map((run, i) => run[key] / runs[b]?.[i]?.[key])
    const direct = ratio('codex-broker', 'direct', 'rps')
    const vsRust = runs.rust ? ratio('codex-broker', 'rust', 'rps') : null
    const rps = Object.entries(runs)
      .map(([name, list]) => `${name}=${Math.round(median(list.map((run) => run.rps)))}`)
      .join(' ')
    const errors = Object.entries(runs)
      .map(([name, list]) => [name, list.reduce((sum, run) => sum + run.errors, 0)])
      .filter(([, count]) => count > 0)
      .map(([name, count]) => `${name} ${count} errors`)
    const errorNote = errors.length > 0 ? `; ${errors.join(', ')}` : ''
    const ratios =
      `proxy/direct=${fmt(median(direct))} proxy/rust=${vsRust ? fmt(median(vsRust), 1) : 'n/a'} ` +
      `(${rounds} rounds, min ${fmt(min(direct))} max ${fmt(max(direct))}` +
      (vsRust ? `, proxy/rust min ${fmt(min(vsRust), 1)} max ${fmt(max(vsRust), 1)}` : '')
    if (scenario.id === 'P1') {
      const met = [median(direct) >= 0.45, vsRust ? median(vsRust) >= 2.0 : null]
      console.log(`P1 ${ratios}; ${loads}${errorNote}) ${target(met)}`)
      console.log(`P1 rps ${rps} (medians, c=${scenario.connections})`)
      const cpu = Object.entries(runs)
        .map(([name, list]) => {
          const us = Math.round(median(list.map((run) => run.cpuUs)))
          return name === 'direct' ? `upstream=${us}us` : `${name}=${us}us`
        })
        .join(' ')
      console.log(
        `P1 cpu_per_request ${cpu} (medians; the process's CPU time over a run ÷ requests)`,
      )
      continue
    }
    const added = (name, key) => runs[name].map((run, i) => run[key] - runs.direct[i][key])
    const p50 = added('codex-broker', 'p50')
    const p99 = added('codex-broker', 'p99')
    console.log(
      `P2 added_p50=${fmt(median(p50), 3)}ms added_p99=${fmt(median(p99), 3)}ms ` +
        `(${rounds} rounds, p50 min ${fmt(min(p50), 3)} max ${fmt(max(p50), 3)}, ` +
        `p99 min ${fmt(min(p99), 3)} max ${fmt(max(p99), 3)}; wrk --latency; ${loads}${errorNote}) ` +
        target([median(p50) <= 0.15, median(p99) <= 1]),
    )
    if (runs.rust) {
      const rustP50 = added('rust', 'p50')
      const rustP99 = added('rust', 'p99')
      console.log(
        `P2 rust added_p50=${fmt(median(rustP50), 3)}ms added_p99=${fmt(median(rustP99), 3)}ms ` +
          `(${rounds} rounds, p50 min ${fmt(min(rustP50), 3)} max ${fmt(max(rustP50), 3)})`,
      )
    }
    const latency = Object.entries(runs)
      .map(
        ([name, list]) =>
          `${name} p50=${fmt(median(list.map((run) => run.p50)), 3)}ms ` +
          `p99=${fmt(median(list.map((run) => run.p99)), 3)}ms`,
      )
      .join(', ')
    console.log(`P2 latency ${latency} (medians)`)
    console.log(`P2 rps ${ratios}) ${rps}`)
  }
  await Promise.all(list.filter((c) => c.proxy).map((c) => c.proxy.stop()))
  await upstream.stop()
}

/** P3: a 10 MiB stream of 1 KiB events, wrk at one connection reading it again and again. */
async function largeStream(rust) {
  const upstream = await startUpstream('large')
  const list = await contenders(upstream, rust)
  const runs = {}
  for (const contender of list) {
    await runWrk({ url: contender.url, script: contender.script, connections: 1, seconds: 1 })
  }
  const loadStart = load()
  for (let round = 0; round < rounds; round += 1) {
    for (const contender of list) {
      const run = await runWrk({
        url: contender.url,
        script: contender.script,
        connections: 1,
        seconds,
        timeoutSeconds: 30,
      })
      ;(runs[contender.name] ??= []).push(run)
    }
  }
  const ratio = (a, b) => runs[a].map((run, i) => run.mbps / runs[b][i].mbps)
  const direct = ratio('codex-broker', 'direct')
  const vsRust = runs.rust ? ratio('codex-broker', 'rust') : null
  const speeds = Object.entries(runs)
    .map(([name, list]) => `${name} ${Math.round(median(list.map((run) => run.mbps)))} MiB/s`)
    .join(', ')
  const requests = Object.entries(runs)
    .map(([name, list]) => `${name} ${list.reduce((sum, run) => sum + run.requests, 0)}`)
    .join(', ')
  const errors = Object.values(runs)
    .flat()
    .reduce((sum, run) => sum + run.errors, 0)
  console.log(
    `P3 proxy/direct=${fmt(median(direct))} proxy/rust=${vsRust ? fmt(median(vsRust)) : 'n/a'} ` +
      `(${rounds} rounds, min ${fmt(min(direct))} max ${fmt(max(direct))}; ${speeds}; ` +
      `10 MiB answers read: ${requests}${errors ? `; ${errors} errors` : ''}; ` +
      `load ${loadStart}→${load()}) ${target([median(direct) >= 0.9])}`,
  )
  await Promise.all(list.filter((c) => c.proxy).map((c) => c.proxy.stop()))
  await upstream.stop()
}

/** P4: many concurrent slow streams; the proxy's RSS and its responsiveness seen from outside. */
async function slowStreams(rust) {
  const upstream = await startUpstream('slow', streamSeconds)
  const broker = await startBroker(upstream.port)
  const ours = await slowStreamRun(broker, { Authorization: `Bearer ${broker.token}` }, 204)
  await broker.stop()
  const served = ours.summary.servedWithin5s
  const what = `${streamCount} streams × ${streamSeconds} s, 1 run`
  const servedNote =
    `${served}/${streamCount} streams got their first event within 5 s ` +
    `(p99 ${fmt(ours.summary.firstEventP99 / 1000, 1)} s), ` +
    `${ours.summary.completed} completed, ${ours.summary.errors} errors`
  console.log(
    `P4 rss_mb=${fmt(ours.peakMb, 1)} lag_p99_ms=${fmt(ours.lagP99, 1)} ` +
      `(${what}; idle RSS ${fmt(ours.idleMb, 1)} MB, peak = VmHWM; /healthz p99 idle ` +
      `${fmt(ours.idleP99)} ms, under load ${fmt(ours.loadedP99)} ms over ${ours.probes} probes; ` +
      `${servedNote}; load ${ours.load}) ` +
      target([ours.peakMb <= 200, ours.lagP99 <= 20, served === streamCount]),
  )
  if (rust !== null) {
    const proxy = await startRust(rust, upstream.port)
    // It answers GET /healthz with 403 — still a full round trip through its accept loop.
    const theirs = await slowStreamRun(proxy, {}, 403)
    await proxy.stop()
    console.log(
      `P4 rust rss_mb=${fmt(theirs.peakMb, 1)} probe_p99_added_ms=${fmt(theirs.lagP99, 1)} ` +
        `(${what}; idle RSS ${fmt(theirs.idleMb, 1)} MB; ` +
        `${theirs.summary.servedWithin5s}/${streamCount} streams got their first event within 5 s ` +
        `(p99 ${fmt(theirs.summary.firstEventP99 / 1000, 1)} s), ` +
        `${theirs.summary.completed} completed, ${theirs.summary.errors} errors; load ${theirs.load})`,
    )
  }
  await upstream.stop()
}

async function slowStreamRun(proxy, headers, healthStatus) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const probe = async (until) => {
    const times = []
    while (!until()) {
      const started = performance.now()
      const status = await healthz(agent, proxy.port)
      if (status !== healthStatus) throw new Error(`GET /healthz answered ${status}`)
      times.push(performance.now() - started)
      await sleep(HEALTH_EVERY_MS)
    }
    return times.sort((a, b) => a - b)
  }
  const idleUntil = performance.now() + 5000
  const idle = await probe(() => performance.now() >= idleUntil)
  const idleMb = rssMb(proxy.pid, 'VmRSS')
  let peakRss = idleMb
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rssMb(proxy.pid, 'VmRSS'))
  }, 250)
  const loadStart = load()
  const client = track(
    fork(join(import.meta.dirname, 'lib', 'slow-client.mjs'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  let summary = null
  const finished = new Promise((resolve) => {
    client.on('message', (message) => {
      if (message.summary) {
        summary = message.summary
        resolve()
      }
    })
    client.once('exit', resolve)
  })
  client.send({
    port: proxy.port,
    headers: { 'Content-Type': 'application/json', ...headers },
    count: streamCount,
  })
  // Streams still open this long after the last one should have ended are cut (a proxy that queues them).
  const deadline = setTimeout(
    () => {
      if (client.connected) client.send('stop')
    },
    (streamSeconds + 20) * 1000,
  )
  let done = false
  void finished.then(() => {
    done = true
  })
  const loaded = await probe(() => done)
  await finished
  clearTimeout(deadline)
  clearInterval(sampler)
  const peakMb = Math.max(peakRss, rssMb(proxy.pid, 'VmHWM'))
  agent.destroy()
  if (client.exitCode === null) client.kill()
  const idleP99 = percentile(idle, 0.99)
  const loadedP99 = percentile(loaded, 0.99)
  return {
    summary: summary ?? { servedWithin5s: 0, completed: 0, errors: Number.NaN },
    idleMb,
    peakMb,
    idleP99,
    loadedP99,
    lagP99: loadedP99 - idleP99,
    probes: loaded.length,
    load: `${loadStart}→${load()}`,
  }
}

/** One `GET /healthz` on the keep-alive agent; answers the status. */
function healthz(agent, port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    })
    req.on('error', () => resolve(0))
    req.end()
  })
}

/** P7: cold starts, the runs interleaved. */
async function coldStart(rust) {
  const upstream = await startUpstream('small')
  const times = { version: [], node: [], ready: [], rust: [] }
  const runs = 5
  for (let run = 0; run < runs; run += 1) {
    times.node.push(await timeNode(['-e', '0']))
    times.version.push(await timeNode([cli(), '--version']))
    const broker = await startBroker(upstream.port)
    if ((await getStatus(broker.port, '/healthz')) !== 204) throw new Error('no 204 from /healthz')
    times.ready.push(broker.readyMs)
    await broker.stop()
    if (rust !== null) {
      const proxy = await startRust(rust, upstream.port)
      times.rust.push(proxy.readyMs)
      await proxy.stop()
    }
  }
  const range = (list) => `min ${Math.round(min(list))} max ${Math.round(max(list))}`
  console.log(
    `P7 version_ms=${Math.round(median(times.version))} proxy_ready_ms=${Math.round(median(times.ready))} ` +
      `(${runs} runs, version ${range(times.version)}, ready ${range(times.ready)}; ` +
      `\`node -e 0\` ${Math.round(median(times.node))} ms; load ${load()}) ` +
      target([median(times.version) <= 150, median(times.ready) <= 500]),
  )
  if (rust !== null) {
    console.log(
      `P7 rust_ready_ms=${Math.round(median(times.rust))} (${runs} runs, ${range(times.rust)})`,
    )
  }
  await upstream.stop()
}

/** VmRSS or VmHWM of a process in MB (MiB), or NaN once it is gone. */
function rssMb(pid, field) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
    return match ? Number(match[1]) / 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

/** Which build runs: the commit, and whether src/ differs from it. */
function buildNote() {
  const git = (args) => {
    try {
      return execFileSync('git', args, {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim()
    } catch {
      return '?'
    }
  }
  const changed = git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length
  return (
    `dist/ as built at start (commit ${git(['rev-parse', '--short', 'HEAD'])}` +
    `${changed > 0 ? `, ${changed} uncommitted src/ file(s)` : ''}), run from a snapshot copy`
  )
}

/** The CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat (10 ms ticks). */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return Number.NaN
  }
}

function openFilesLimit() {
  try {
    return /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? '?'
  } catch {
    return '?'
  }
}

function fail(message) {
  console.error(`bench/proxy.mjs: ${message}`)
  process.exit(1)
}
