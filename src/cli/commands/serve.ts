/**
 * `codex-broker serve`: the WebSocket JSON-RPC app-server in the foreground until Ctrl-C or SIGTERM. It listens on
 * `--listen ws://IP:PORT` and authenticates each upgrade as the `--ws-*` flags say (PROTOCOL.md §10; parsed in
 * ws-auth-flags.ts): without `--ws-auth` only on loopback, with a banner saying that any local process may
 * connect. `responses/create` goes to the signed-in ChatGPT accounts through the same pool as `proxy`; with no
 * account signed in yet it starts anyway — a client can sign in with `account/login/start`, and the pool, which
 * re-reads the store, picks the new account up. `--agent-runner codex-cli` (or `direct`) serves `agent/run` with
 * that runner (docs/runners.md; `--codex-binary` names the CLI, else it is looked for on `PATH`); without it the
 * method answers that no runner is configured. No token is ever printed.
 */
import { z } from 'zod'
import { createAppServerMethods } from '../../app-server/methods/create-app-server-methods.js'
import { startAppServer } from '../../app-server/server/start-app-server.js'
import { DEFAULT_ORIGINATOR } from '../../oauth/index.js'
import { CodexCliRunner, DirectRunner, type Runner } from '../../runners/index.js'
import { resolveEnvironment } from '../environment.js'
import { parseOptions, untilStopSignal } from '../options.js'
import { CliOutput } from '../output.js'
import { codexBackendFor, openAccountPool, strategyOption } from '../pool-upstream.js'
import { codexCliLocation, runnerKindOption } from '../runner-flags.js'
import { openServices } from '../services.js'
import { VERSION } from '../version.js'
import { loadWsAuth, planWsListen } from '../ws-auth-flags.js'

const serveOptions = z.object({
  strategy: strategyOption.optional(),
  agentRunner: runnerKindOption.optional(),
  codexBinary: z.string().min(1).optional(),
  json: z.boolean().optional(),
})

/** Runs `codex-broker serve`. */
export async function runServe(flags: Record<string, unknown>): Promise<void> {
  const out = new CliOutput(flags.json === true)
  const closers: (() => Promise<void>)[] = []
  try {
    const options = parseOptions(serveOptions, flags)
    const located = codexCliLocation('--agent-runner', options.agentRunner, options.codexBinary)
    const plan = planWsListen(flags)
    const env = resolveEnvironment(flags)
    const auth = await loadWsAuth(plan.auth)
    const { store, tokens, issuer } = await openServices(env)
    const backend = codexBackendFor(env.backendBase)
    closers.push(() => backend.close())
    // Built even with no account signed in: the pool re-reads the store, so later sign-ins join it.
    const { pool, strategy } = await openAccountPool({
      home: env.home,
      store,
      strategy: options.strategy,
    })
    closers.push(() => pool.close())
    let agentRunner: Runner | undefined
    if (options.agentRunner === 'codex-cli') {
      agentRunner = new CodexCliRunner({
        store,
        issuer,
        backendBase: env.backendBase,
        ...located,
      })
    } else if (options.agentRunner === 'direct') {
      agentRunner = new DirectRunner({ tokens, backend })
    }
    const methods = createAppServerMethods({
      store,
      tokens,
      issuer,
      backendBase: env.backendBase,
      identity: { originator: DEFAULT_ORIGINATOR, version: VERSION },
      upstream: { kind: 'pool', pool, tokens, backend },
      pool,
      ...(agentRunner === undefined ? {} : { agentRunner }),
    })
    closers.unshift(() => methods.close())
    const server = await startAppServer({
      methods: methods.methods,
      auth,
      host: plan.host,
      port: plan.port,
    })
    closers.unshift(() => server.close())

    const signedIn = (await store.list()).filter((account) => account.auth.kind === 'chatgpt')
    const count = signedIn.length
    out.note(
      count === 0
        ? 'no ChatGPT account is signed in yet: sign one in with account/login/start (or codex-broker login)'
        : `serving ${String(count)} account${count === 1 ? '' : 's'} (strategy ${strategy})`,
    )
    if (auth.kind === 'none') process.stderr.write(openLoopbackBanner(server.url))
    else if (!plan.loopback) process.stderr.write(nonLoopbackBanner(server.url))
    if (agentRunner !== undefined) out.note(`agent/run uses the ${agentRunner.kind} runner`)
    out.event('listening', { url: server.url, port: server.port, auth: plan.auth.kind })
    out.say(`listening on ${server.url}`)
    await Promise.race([untilStopSignal(), server.closed])
  } catch (error) {
    out.fail(error)
  } finally {
    for (const close of closers) await close()
  }
}

function banner(lines: readonly string[]): string {
  const rule = '!'.repeat(78)
  return [rule, ...lines.map((line) => `!! ${line}`), rule, ''].join('\n')
}

/** The warning of a loopback server without authentication. */
function openLoopbackBanner(url: string): string {
  return banner([
    `The app-server on ${url} has NO authentication (no --ws-auth).`,
    'Any process on this machine, run by any local user, can connect and use the',
    'signed-in accounts. Prefer a capability token:',
    '  (umask 077 && openssl rand -hex 32 > ws-token)',
    '  codex-broker serve --listen ... --ws-auth capability-token --ws-token-file ws-token',
  ])
}

/** The warning of a server reachable from other machines. */
function nonLoopbackBanner(url: string): string {
  return banner([
    `The app-server listens on ${url}, which is NOT loopback: other machines can reach it.`,
    'Every connection still needs the token, but ws:// is plain text: anyone on the',
    'network path can read prompts, answers and the token. Prefer loopback with an SSH',
    'tunnel, or a TLS-terminating proxy in front.',
  ])
}
