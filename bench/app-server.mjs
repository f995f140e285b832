/**
 * Scenario P6 of BENCHMARKS.md: the app-server. codex-broker's `serve` against, with `--with-codex`, the official
 * `codex app-server` (installed into a temporary folder, its native binary run directly), both started as their
 * users start them, listening on `ws://127.0.0.1:<port>` with `--ws-auth signed-bearer-token
 * --ws-shared-secret-file <F> --ws-issuer <I> --ws-audience <A>`. Beside them `bare` (bench/lib/ws-bare.mjs): a
 * `ws` server verifying the same JWT with jose and answering a fixed result — the floor of Node + ws + jose here.
 * Contenders take turns within each round; figures are medians over rounds, the 1-minute load beside them.
 *
 * - Round trips: one connection, `initialize` + `initialized`, a warm-up, then `--calls` strictly sequential
 *   `account/read` calls (nobody signed in: both answer `{account: null, requiresOpenaiAuth: true}` from local
 *   state; strace showed the official server's only network traffic is DNS at startup, none per call), each
 *   timed from send to answer (µs); p50/p99 per round, ratio ours/official per round. Beside it the server's CPU
 *   time per call (/proc/<pid>/stat, 10 ms ticks; over 10,000 calls this is ±1 µs per call).
 * - Handshakes: `--handshakes` full WebSocket handshakes, each with its own freshly minted HS256 token in
 *   `Authorization: Bearer` (minted before the clock starts, so only the server's verification is timed),
 *   open → close handshake completed, on raw sockets (bench/lib/ws-client.mjs `rawHandshake`: the `ws` client
 *   costs more CPU per handshake than the servers do); sequential, then 32 at a time; handshakes/s per round,
 *   and each process's CPU time per handshake (the server's is what a CPU-bound server's rate follows).
 * - `--cpu-prof`: one more run of our server under `node --cpu-prof` doing the round-trip case, and its functions
 *   ranked by self time.
 *
 * Usage: npm run bench -- app-server [--with-codex] [--rounds 5] [--calls 10000] [--handshakes 1000]
 *        [--quick] [--cpu-prof [--cpu-prof-dir D]] [--only rtt,handshakes]      (after `npm run build`)
 */
import { fork, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { topSelfTime } from './lib/cpu-profile.mjs'
import { cli, installCodex, snapshotCli, stop, stopAll, tempDir, track } from './lib/processes.mjs'
import { fmt, load, max, median, min, percentile, target } from './lib/stats.mjs'
import {
  JWT_AUDIENCE,
  JWT_ISSUER,
  freePort,
  handshakes,
  initialize,
  mintTokens,
  rpc,
  sequentialCalls,
  waitOpen,
  writeSharedSecret,
} from './lib/ws-client.mjs'

const { values: flags } = parseArgs({
  strict: false,
  options: {
    rounds: { type: 'string' },
    calls: { type: 'string' },
    handshakes: { type: 'string' },
    concurrency: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'with-codex': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'cpu-prof-dir': { type: 'string' },
    only: { type: 'string', default: 'rtt,handshakes' },
  },
})
const quick = flags.quick === true
const rounds = Number(flags.rounds ?? (quick ? 2 : 5))
const calls = Number(flags.calls ?? (quick ? 2000 : 10_000))
const handshakeCount = Number(flags.handshakes ?? (quick ? 300 : 1000))
const concurrency = Number(flags.concurrency ?? 32)
const only = new Set(String(flags.only).toLowerCase().split(','))
const METHOD = 'account/read'
const PARAMS = {}
const WARMUP_CALLS = 1000
const WARMUP_HANDSHAKES = 100
for (const [name, value] of Object.entries({
  rounds,
  calls,
  handshakes: handshakeCount,
  concurrency,
})) {
  if (!(Number.isInteger(value) && value >= 1)) fail(`--${name} must be a positive integer`)
}
if (!existsSync(join(import.meta.dirname, '..', 'dist', 'cli', 'main.js'))) {
  fail('dist/ is missing: run `npm run build` first')
}

try {
  await main()
} finally {
  await stopAll()
}

async function main() {
  console.log(
    `app-server bench: ${rounds} rounds, ${calls} sequential ${METHOD} calls, ${handshakeCount} handshakes ` +
      `(sequential and ${concurrency} at a time), load ${load()}`,
  )
  snapshotCli()
  const dir = tempDir('app-server')
  const { path: secretFile, secret } = writeSharedSecret(dir)
  let codex = null
  if (flags['with-codex'] === true) {
    const installed = await installCodex()
    if (installed.note) console.log(`NOTE ${installed.note}; the official app-server is skipped`)
    else codex = installed.binary
  } else {
    console.log('NOTE without --with-codex: the official app-server is not measured (ratios n/a)')
  }
  // Per contender (three at most): 2 × rounds × handshakes, the warm-up, one for the RPC connection; + profile.
  const tokens = await mintTokens(
    secret,
    3 * (2 * rounds * handshakeCount + WARMUP_HANDSHAKES + 1) + 3,
  )
  let used = 0
  const take = (count) => {
    used += count
    return tokens.slice(used - count, used)
  }

  const list = [await startOurs(secretFile), await startBare(secretFile)]
  if (codex !== null) list.push(await startOfficial(codex, secretFile))
  for (const contender of list) {
    contender.client = rpc(await waitOpen(contender.url, take(1)[0], contender.child))
    contender.initialized = await initialize(contender.client)
    await sequentialCalls(contender.client, METHOD, PARAMS, WARMUP_CALLS)
    await handshakes(contender.url, take(WARMUP_HANDSHAKES), 4)
  }

  const runs = Object.fromEntries(list.map((c) => [c.name, { rtt: [], seq: [], par: [] }]))
  const loadStart = load()
  for (let round = 0; round < rounds; round += 1) {
    if (only.has('rtt')) {
      for (const contender of list) {
        const cpuBefore = cpuMs(contender.pid)
        const { times, errors } = await sequentialCalls(contender.client, METHOD, PARAMS, calls)
        const cpuUs = ((cpuMs(contender.pid) - cpuBefore) * 1000) / calls
        runs[contender.name].rtt.push({
          p50: percentile(times, 0.5),
          p99: percentile(times, 0.99),
          errors,
          cpuUs,
        })
      }
    }
    if (only.has('handshakes')) {
      for (const contender of list) {
        for (const [key, parallel] of [
          ['seq', 1],
          ['par', concurrency],
        ]) {
          const cpuBefore = cpuMs(contender.pid)
          const clientBefore = process.cpuUsage()
          const run = await handshakes(contender.url, take(handshakeCount), parallel)
          run.cpuUs = ((cpuMs(contender.pid) - cpuBefore) * 1000) / handshakeCount
          const client = process.cpuUsage(clientBefore)
          run.clientUs = (client.user + client.system) / handshakeCount
          runs[contender.name][key].push(run)
        }
      }
    }
  }
  const loads = `load ${loadStart}→${load()}`
  for (const contender of list) await contender.client.close()
  report(runs, loads, codex !== null)
  await Promise.all(list.map((contender) => stop(contender.child)))
  if (flags['cpu-prof'] === true) await profileOurs(secretFile, take(3))
  console.log(`load after: ${load()}`)
}

function report(runs, loads, withOfficial) {
  const ours = runs['codex-broker']
  const official = withOfficial ? runs.official : null
  const range = (list) => `min ${fmt(min(list))} max ${fmt(max(list))}`
  const us = (value) => `${Math.round(value)} µs`
  const errorsOf = (name) => runs[name].rtt.reduce((sum, run) => sum + run.errors, 0)
  if (only.has('rtt')) {
    const p50 = (name) => median(runs[name].rtt.map((run) => run.p50))
    const p99 = (name) => median(runs[name].rtt.map((run) => run.p99))
    const ratios = official ? ours.rtt.map((run, i) => run.p50 / official.rtt[i].p50) : []
    const errorNote = Object.keys(runs)
      .filter((name) => errorsOf(name) > 0)
      .map((name) => `; ${name} ${errorsOf(name)} error answers`)
      .join('')
    console.log(
      `P6 rtt-ours/official=${official ? fmt(median(ratios)) : 'n/a'} (p50 ours ${us(p50('codex-broker'))}, ` +
        `official ${official ? us(p50('official')) : 'n/a'}; ${rounds} rounds` +
        `${official ? `, ${range(ratios)}` : ''}; ${calls} sequential ${METHOD} per round, one connection; ` +
        `${loads}${errorNote}) ${target([official ? median(ratios) <= 0.2 : null])}`,
    )
    const line = (name) =>
      `${name} p50=${us(p50(name))} p99=${us(p99(name))} ` +
      `cpu/call=${Math.round(median(runs[name].rtt.map((run) => run.cpuUs)))} µs`
    console.log(
      `P6 rtt ${Object.keys(runs).map(line).join(', ')} (medians over rounds; cpu = the server process)`,
    )
  }
  if (only.has('handshakes')) {
    for (const [key, what] of [
      ['seq', 'sequential'],
      ['par', `c=${concurrency}`],
    ]) {
      const rate = (name) => median(runs[name][key].map((run) => run.perSecond))
      const errors = Object.keys(runs)
        .map((name) => [
          name,
          runs[name][key].reduce((sum, run) => sum + run.errors, 0),
          runs[name][key],
        ])
        .filter(([, count]) => count > 0)
        .map(
          ([name, count, list]) =>
            `; ${name} ${count} failed (${list.find((r) => r.firstError)?.firstError})`,
        )
        .join('')
      const oursRates = ours[key].map((run) => run.perSecond)
      console.log(
        `P6 handshakes/s ${what} ours=${Math.round(rate('codex-broker'))} ` +
          `official=${official ? Math.round(rate('official')) : 'n/a'} bare=${Math.round(rate('bare'))} ` +
          `(target ≥ 2000; ${rounds} rounds × ${handshakeCount}, ours min ${Math.round(min(oursRates))} ` +
          `max ${Math.round(max(oursRates))}` +
          `${official ? `, ours/official=${fmt(median(ours[key].map((run, i) => run.perSecond / official[key][i].perSecond)))}` : ''}` +
          `; HS256 JWT per handshake, open→close; ${loads}${errors}) ${target([rate('codex-broker') >= 2000])}`,
      )
      const cpu = Object.keys(runs)
        .map((name) => `${name}=${Math.round(median(runs[name][key].map((run) => run.cpuUs)))} µs`)
        .join(' ')
      const clientUs = Math.round(
        median(Object.values(runs).flatMap((r) => r[key].map((run) => run.clientUs))),
      )
      console.log(
        `P6 cpu/handshake ${what} ${cpu} client=${clientUs} µs (medians; each process's CPU time ÷ handshakes; ` +
          `the raw-socket client alone caps the rate near ${Math.round(1e6 / clientUs)}/s; a server bound by its ` +
          `own CPU would reach ${Object.keys(runs)
            .map(
              (name) =>
                `${name} ≈${Math.round(1e6 / median(runs[name][key].map((run) => run.cpuUs)))}/s`,
            )
            .join(', ')})`,
      )
    }
  }
}

/** `codex-broker serve` as a user starts it (from the dist/ snapshot), with its own empty home. */
async function startOurs(secretFile, nodeArgs = []) {
  const dir = tempDir('serve')
  const port = await freePort()
  const child = track(
    spawn(
      process.execPath,
      [
        ...nodeArgs,
        cli(),
        '--home',
        join(dir, 'home'),
        'serve',
        '--listen',
        `ws://127.0.0.1:${port}`,
        ...authFlags(secretFile),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir },
    ),
  )
  return { name: 'codex-broker', url: `ws://127.0.0.1:${port}`, pid: child.pid, child, dir }
}

/** The floor: a bare `ws` + jose server (bench/lib/ws-bare.mjs) in its own process. */
async function startBare(secretFile) {
  const port = await freePort()
  const child = track(
    fork(
      join(import.meta.dirname, 'lib', 'ws-bare.mjs'),
      [String(port), secretFile, JWT_ISSUER, JWT_AUDIENCE],
      {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      },
    ),
  )
  return { name: 'bare', url: `ws://127.0.0.1:${port}`, pid: child.pid, child }
}

/** `codex app-server`, its native binary run directly, with an empty CODEX_HOME (nobody signed in). */
async function startOfficial(binary, secretFile) {
  const dir = tempDir('codex-home')
  const port = await freePort()
  const child = track(
    spawn(binary, ['app-server', '--listen', `ws://127.0.0.1:${port}`, ...authFlags(secretFile)], {
      // Its stderr prints where it listens and warns about bubblewrap and helper binaries under /tmp.
      stdio: ['ignore', 'ignore', 'ignore'],
      cwd: dir,
      env: { ...process.env, HOME: dir, CODEX_HOME: dir },
    }),
  )
  return { name: 'official', url: `ws://127.0.0.1:${port}`, pid: child.pid, child }
}

function authFlags(secretFile) {
  return [
    '--ws-auth',
    'signed-bearer-token',
    '--ws-shared-secret-file',
    secretFile,
    '--ws-issuer',
    JWT_ISSUER,
    '--ws-audience',
    JWT_AUDIENCE,
  ]
}

/** Our server under `node --cpu-prof` for one warm-up and one measured round-trip run; prints the top self time. */
async function profileOurs(secretFile, tokens) {
  // --cpu-prof-dir keeps the profile (for a viewer); by default it goes to a temporary folder.
  const profDir =
    typeof flags['cpu-prof-dir'] === 'string' ? flags['cpu-prof-dir'] : tempDir('cpuprof')
  const ours = await startOurs(secretFile, ['--cpu-prof', '--cpu-prof-dir', profDir])
  const client = rpc(await waitOpen(ours.url, tokens[0], ours.child))
  await initialize(client)
  await sequentialCalls(client, METHOD, PARAMS, WARMUP_CALLS)
  const { times } = await sequentialCalls(client, METHOD, PARAMS, calls)
  await client.close()
  // SIGINT: serve stops on it and exits normally, which is when node writes the profile.
  const exited = new Promise((resolve) => ours.child.once('exit', resolve))
  ours.child.kill('SIGINT')
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
  await stop(ours.child)
  const file = readdirSync(profDir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort()
    .at(-1)
  if (file === undefined) {
    console.log('NOTE --cpu-prof: our server wrote no profile (it did not exit normally on SIGINT)')
    return
  }
  const { totalMs, busyMs, top } = topSelfTime(join(profDir, file), 15)
  console.log(
    `P6 profile ours: ${WARMUP_CALLS + calls} calls (+ initialize), p50 under the profiler ` +
      `${Math.round(percentile(times, 0.5))} µs; ${fmt(totalMs, 0)} ms sampled over the whole process life, ` +
      `${fmt(busyMs, 0)} ms not idle (startup included); top self time, % of the busy time (< callers):`,
  )
  for (const entry of top) {
    const caller = entry.caller ? ` < ${entry.caller}` : ''
    console.log(
      [
        `P6 profile ${fmt(entry.share * 100, 1)}% ${fmt(entry.ms, 0)} ms ${entry.name}`,
        entry.where,
        caller.trim(),
      ]
        .filter(Boolean)
        .join(' '),
    )
  }
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

function fail(message) {
  console.error(`bench/app-server.mjs: ${message}`)
  process.exit(1)
}
