/**
 * The processes bench/proxy.mjs runs: the upstream stand-in, codex-broker's proxy exactly as a user starts it
 * (`node dist/cli/main.js … proxy --upstream openai --api-key-stdin`), and the official Rust proxy
 * (`codex responses-api-proxy`, installed into a temporary folder on request). Every child is registered so one
 * call (`stopAll`, also run on SIGINT/SIGTERM) ends them all by pid, and every temporary folder so it is removed.
 */
import { execFile, fork, spawn } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs'
import { get } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const ROOT = join(import.meta.dirname, '..', '..')
const BUILT_CLI = join(ROOT, 'dist', 'cli', 'main.js')
let cliPath = BUILT_CLI
const CODEX_VERSION = '0.169.0'
const API_KEY = 'sk-bench'

const children = new Set()
const tempDirs = new Set()

/**
 * Copies dist/ (and package.json, for `"type": "module"`) into a temporary folder whose node_modules links to
 * the project's, and runs the CLI from there: a rebuild of dist/ during the run (tests run `npm run build`)
 * then cannot pull the files from under it. Answers the CLI path.
 */
export function snapshotCli() {
  if (!existsSync(BUILT_CLI)) throw new Error('dist/ is missing: run `npm run build` first')
  const dir = tempDir('dist')
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true })
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
  cliPath = join(dir, 'dist', 'cli', 'main.js')
  return cliPath
}

/** The CLI the bench runs (`dist/cli/main.js`, or its snapshot). */
export function cli() {
  return cliPath
}

/** A fresh folder under os.tmpdir(), removed by `stopAll`. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `codex-broker-bench-${prefix}-`))
  tempDirs.add(dir)
  return dir
}

/** Registers a child so `stopAll` ends it. */
export function track(child) {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** Ends one child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** Ends every child still running and removes the temporary folders. */
export async function stopAll() {
  await Promise.all([...children].map((child) => stop(child)))
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return
    interrupted = true
    console.error(`bench/proxy.mjs: ${signal}, stopping the children`)
    void stopAll().finally(() => process.exit(130))
  })
}

/** Starts the upstream stand-in in `mode` (see upstream.mjs); answers `{ port, pid, child }`. */
export async function startUpstream(mode, ...args) {
  const child = track(
    fork(join(import.meta.dirname, 'upstream.mjs'), [mode, ...args.map(String)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  const { port } = await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`upstream (${mode}) exited with ${code}`)))
  })
  return { port, pid: child.pid, child, stop: () => stop(child) }
}

/**
 * Spawns `codex-broker proxy` against the upstream on `upstreamPort`, the key on stdin. Answers once the
 * server-info file exists: `{ port, pid, token, child, readyMs }` where `readyMs` is the wall time from spawn
 * until the server-info file appeared and `GET /healthz` answered 204.
 */
export async function startBroker(upstreamPort, options = {}) {
  const dir = tempDir('broker')
  const info = join(dir, 'info.json')
  const node = [...(options.nodeArgs ?? []), cliPath]
  const args = [
    '--home',
    join(dir, 'home'),
    '--api-url',
    `http://127.0.0.1:${upstreamPort}/v1`,
    'proxy',
    '--upstream',
    'openai',
    '--api-key-stdin',
    '--port',
    '0',
    '--server-info',
    info,
  ]
  const started = performance.now()
  const child = track(
    spawn(process.execPath, [...node, ...args], {
      stdio: ['pipe', 'ignore', 'inherit'],
      cwd: options.cwd ?? dir,
    }),
  )
  child.stdin.end(`${API_KEY}\n`)
  const parsed = await waitForInfo(info, child, 'codex-broker proxy')
  await waitHealthy(parsed.port, child)
  return {
    port: parsed.port,
    pid: parsed.pid,
    token: parsed.auth_token,
    child,
    readyMs: performance.now() - started,
    stop: () => stop(child),
  }
}

/** Spawns `codex responses-api-proxy`; answers `{ port, pid, child, readyMs }` once it accepts connections. */
export async function startRust(binary, upstreamPort) {
  const dir = tempDir('rust')
  const info = join(dir, 'info.json')
  const started = performance.now()
  const child = track(
    spawn(
      binary,
      [
        'responses-api-proxy',
        '--port',
        '0',
        '--server-info',
        info,
        '--upstream-url',
        `http://127.0.0.1:${upstreamPort}/v1/responses`,
      ],
      // Its stderr only says where it listens (and warns about helper binaries under /tmp).
      { stdio: ['pipe', 'ignore', 'ignore'], cwd: dir, env: { ...process.env, HOME: dir } },
    ),
  )
  child.stdin.end(`${API_KEY}\n`)
  const parsed = await waitForInfo(info, child, 'codex responses-api-proxy')
  await waitHealthy(parsed.port, child, 403)
  return {
    port: parsed.port,
    pid: child.pid,
    child,
    readyMs: performance.now() - started,
    stop: () => stop(child),
  }
}

/**
 * Installs @openai/codex into a temporary folder (never the project's dependencies) and answers the path of its
 * native binary, or `{ note }` saying why it could not.
 */
export async function installCodex() {
  const dir = tempDir('codex')
  const result = await new Promise((resolve) => {
    execFile(
      'npm',
      ['install', '--prefix', dir, `@openai/codex@${CODEX_VERSION}`, '--no-audit', '--no-fund'],
      { timeout: 5 * 60 * 1000, encoding: 'utf8' },
      (error, _stdout, stderr) => resolve({ error, stderr }),
    )
  })
  if (result.error) {
    const reason = (result.stderr || String(result.error)).trim().split('\n').pop()
    return { note: `npm install @openai/codex@${CODEX_VERSION} failed: ${reason}` }
  }
  // The native binary ships in an optional platform package; run it directly (not the node wrapper), so its pid
  // is the proxy's own (for RSS) and a signal reaches it.
  const platform = join(dir, 'node_modules', '@openai')
  const packages = existsSync(platform) ? readdirSync(platform) : []
  for (const pkg of packages.filter((name) => name.startsWith('codex-'))) {
    const vendor = join(platform, pkg, 'vendor')
    if (!existsSync(vendor)) continue
    for (const triple of readdirSync(vendor)) {
      const binary = join(vendor, triple, 'bin', 'codex')
      if (existsSync(binary)) return { binary }
    }
  }
  return {
    note: `@openai/codex@${CODEX_VERSION} installed no native binary for ${process.platform}`,
  }
}

async function waitForInfo(path, child, what) {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready`)
    }
    if (existsSync(path)) {
      try {
        return JSON.parse(readFileSync(path, 'utf8'))
      } catch {
        // Not complete yet.
      }
    }
    await sleep(2)
  }
}

/** Polls `GET /healthz` until it answers `status` (the Rust proxy refuses it with 403, which is fine too). */
async function waitHealthy(port, child, status = 204) {
  for (let attempt = 0; attempt < 2500; attempt += 1) {
    if (child.exitCode !== null) throw new Error('the proxy exited before it answered')
    // node:http, not fetch: fetch sends `Sec-Fetch-Mode`, which the proxy refuses as a browser's.
    if ((await getStatus(port, '/healthz')) === status) return
    await sleep(2)
  }
  throw new Error(`GET /healthz on port ${port} never answered ${status}`)
}

/** The status of `GET path` on a fresh connection, or 0 when it cannot connect. */
export function getStatus(port, path) {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', () => resolve(0))
  })
}

/** The wall time (ms) of running `node <args>` to its exit. */
export function timeNode(args) {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = track(spawn(process.execPath, args, { stdio: 'ignore' }))
    child.once('exit', (code) => {
      if (code === 0) resolve(performance.now() - started)
      else reject(new Error(`node ${args.join(' ')} exited with ${code}`))
    })
  })
}
