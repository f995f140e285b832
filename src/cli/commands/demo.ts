/**
 * `codex-broker demo` (what `npm start` runs): brings the system up against the embedded simulator, so a person
 * can try it with no OpenAI account and no network. For now that is the simulator with two demo accounts and a
 * short tour of what to call; each surface adds itself here as it lands.
 */
import { z } from 'zod'
import { startSimulator } from '../../sim/index.js'
import { parseOptions, portOption, untilStopSignal } from '../options.js'

const demoOptions = z.object({ port: portOption })

/** The demo's accounts: one signs in without a page, the other shows the sign-in page. */
export const DEMO_ACCOUNTS = [
  { email: 'alice@example.com', plan: 'plus' },
  { email: 'bob@example.com', plan: 'pro' },
] as const

/** Runs `codex-broker demo` until Ctrl-C. */
export async function runDemo(rawOptions: unknown): Promise<void> {
  const options = parseOptions(demoOptions, rawOptions)
  const sim = await startSimulator({ port: options.port, accounts: DEMO_ACCOUNTS })
  const control = sim.controlBase
  process.stdout.write(
    [
      'codex-broker demo — everything runs locally against the simulator; nothing leaves this machine.',
      '',
      `Simulator ready on ${sim.issuer}`,
      `  issuer   ${sim.issuer}/oauth/authorize   (sign-in page: open it from a sign-in flow)`,
      `  backend  ${sim.backendBase}/codex/responses`,
      `  api      ${sim.apiBase}/responses`,
      `  control  ${control}/counters`,
      `  accounts ${DEMO_ACCOUNTS.map((account) => `${account.email} (${account.plan})`).join(', ')}`,
      '',
      'Try it (API-key mode, no browser needed):',
      `  KEY=$(curl -s -X POST ${control}/api-keys | sed -E 's/.*"apiKey":"([^"]+)".*/\\1/')`,
      `  curl -sN ${sim.apiBase}/responses -H "Authorization: Bearer $KEY" \\`,
      `    -H 'content-type: application/json' \\`,
      `    -d '{"model":"gpt-5.4","stream":true,"input":[{"role":"user","content":"hello"}]}'`,
      `  curl -s ${control}/counters`,
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  )
  await untilStopSignal()
  await sim.close()
  process.stdout.write('demo stopped\n')
}
