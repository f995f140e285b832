/**
 * `codex-broker demo` (what `npm start` runs): brings the system up against the embedded simulator, so a person
 * can try it with no OpenAI account and no network. It starts the simulator, signs a demo account in through the
 * real browser flow (the simulator auto-approves and the demo plays the browser), stores it in a throw-away home,
 * shows its status, starts the proxy in front of it and calls it once, starts the app-server with a capability
 * token and talks JSON-RPC to it, starts the web handler with its React page (checked once through its routes)
 * for a person to open, and prints how to try the rest.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { CODEX_CLIENT_ID, loginWithBrowser } from '../../oauth/index.js'
import { startSimulator } from '../../sim/index.js'
import { FileCredentialStore, saveSignIn } from '../../store/index.js'
import { TokenManager } from '../../tokens/index.js'
import type { CliEnvironment } from '../environment.js'
import { freeLoopbackPort } from '../free-port.js'
import { parseOptions, portOption, untilStopSignal } from '../options.js'
import { startDemoAppServer, type DemoAppServer } from './demo-app-server.js'
import { startDemoProxy, type DemoProxy } from './demo-proxy.js'
import { startDemoWeb } from './demo-web.js'
import type { RunningWebServer } from '../web-server.js'
import { statusOf } from './status.js'

const demoOptions = z.object({ port: portOption })

/** The demo's accounts: the first signs in without a page, the second shows the sign-in page. */
export const DEMO_ACCOUNTS = [
  { email: 'alice@example.com', plan: 'plus' },
  { email: 'bob@example.com', plan: 'pro' },
] as const

/** Runs `codex-broker demo` until Ctrl-C. */
export async function runDemo(rawOptions: unknown): Promise<void> {
  const options = parseOptions(demoOptions, rawOptions)
  // Two callback ports, as the real issuer registers: if another process takes the first, the second is used.
  const firstPort = await freeLoopbackPort()
  const callbackPorts = [firstPort, await freeLoopbackPort([firstPort])]
  const sim = await startSimulator({
    port: options.port,
    accounts: DEMO_ACCOUNTS,
    callbackPorts,
    // Device codes are polled every second, so the web page notices an approval at once.
    config: { autoApprove: DEMO_ACCOUNTS[0].email, devicePollIntervalSeconds: 1 },
  })
  const home = await mkdtemp(join(tmpdir(), 'codex-broker-demo-'))
  let demoProxy: DemoProxy | null = null
  let demoAppServer: DemoAppServer | null = null
  let demoWeb: RunningWebServer | null = null
  try {
    const say = (line = ''): void => {
      process.stdout.write(`${line}\n`)
    }
    say(
      'codex-broker demo — everything runs locally against the simulator; nothing leaves this machine.',
    )
    say()
    say(`Simulator ready on ${sim.issuer}`)
    say(`  issuer   ${sim.issuer}        (stands in for https://auth.openai.com)`)
    say(`  backend  ${sim.backendBase}  (stands in for https://chatgpt.com/backend-api)`)
    say(`  api      ${sim.apiBase}           (stands in for https://api.openai.com/v1)`)
    say(`  control  ${sim.controlBase}/counters`)
    say()

    const store = new FileCredentialStore({ home })
    const issuer = { issuer: sim.issuer, clientId: CODEX_CLIENT_ID }
    say(`1. Signing ${DEMO_ACCOUNTS[0].email} in with the browser flow (PKCE, loopback callback)…`)
    const { claims } = await loginWithBrowser({
      config: issuer,
      ports: callbackPorts,
      // The demo plays the browser: follow the issuer's redirect to the loopback callback.
      onAuthorizeUrl: async (url) => {
        const authorize = await fetch(url, { redirect: 'manual' })
        const callback = authorize.headers.get('location')
        if (callback !== null) await fetch(callback)
      },
      persist: async (tokens, _claims) => {
        await saveSignIn(store, tokens, { label: 'demo', now: Date.now() })
      },
    })
    say(`   signed in: ${claims.email ?? '?'} (plan ${claims.planType}); credentials in ${home}`)

    const env: CliEnvironment = {
      home,
      issuer: sim.issuer,
      clientId: CODEX_CLIENT_ID,
      backendBase: sim.backendBase,
      apiBase: sim.apiBase,
      encryptionKey: undefined,
      encrypt: false,
    }
    const tokens = new TokenManager({ store, issuer })
    const account = await store.get(claims.chatgptAccountId)
    if (account) {
      const row = await statusOf(account, tokens, env)
      const primary = row.usage?.primary
      const secondary = row.usage?.secondary
      say(
        `2. Status: ${row.status}, plan ${row.usage?.planType ?? row.plan ?? '?'}, ` +
          `5-hour window ${String(primary?.usedPercent ?? '?')}% used, ` +
          `7-day window ${String(secondary?.usedPercent ?? '?')}% used`,
      )
    }
    demoProxy = await startDemoProxy({
      home,
      backendBase: sim.backendBase,
      tokens,
      accountId: claims.chatgptAccountId,
      say,
    })
    demoAppServer = await startDemoAppServer({
      home,
      backendBase: sim.backendBase,
      store,
      issuer,
      tokens,
      accountId: claims.chatgptAccountId,
      say,
    })
    demoWeb = await startDemoWeb({ sim, email: DEMO_ACCOUNTS[1].email, say })
    say()
    say('Try the command line against this simulator:')
    say(
      `  npx codex-broker --home ${home} --issuer ${sim.issuer} --backend-url ${sim.backendBase} status`,
    )
    say('Or the API-key path, no browser needed:')
    say(
      `  KEY=$(curl -s -X POST ${sim.controlBase}/api-keys | sed -E 's/.*"apiKey":"([^"]+)".*/\\1/')`,
    )
    say(`  curl -sN ${sim.apiBase}/responses -H "Authorization: Bearer $KEY" \\`)
    say(`    -H 'content-type: application/json' \\`)
    say(`    -d '{"model":"gpt-5.4","stream":true,"input":[{"role":"user","content":"hello"}]}'`)
    say()
    say('Press Ctrl-C to stop.')
    await untilStopSignal()
  } finally {
    await demoWeb?.close()
    await demoAppServer?.close()
    await demoProxy?.close()
    await sim.close()
    await rm(home, { recursive: true, force: true })
  }
  process.stdout.write('demo stopped\n')
}
