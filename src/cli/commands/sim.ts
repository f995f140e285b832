/**
 * `codex-broker sim`: runs the simulator in the foreground until Ctrl-C. With `--json` it prints exactly one line
 * of URLs once it accepts connections, so scripts and other test processes can wait for it and read where it is.
 */
import { z } from 'zod'
import { startSimulator, SIM_PLANS, type SimPlan } from '../../sim/index.js'
import { parseOptions, portOption, untilStopSignal } from '../options.js'

const accountOption = z
  .string()
  .regex(/^[^\s:@]+@[^\s:@]+(:[a-z]+)?$/, 'must look like email or email:plan')
  .transform((value, ctx) => {
    const [email = '', plan] = value.split(':')
    if (plan !== undefined && !SIM_PLANS.includes(plan as SimPlan)) {
      ctx.addIssue({ code: 'custom', message: `plan must be one of ${SIM_PLANS.join(', ')}` })
      return z.NEVER
    }
    return plan === undefined ? { email } : { email, plan: plan as SimPlan }
  })

const simOptions = z.object({
  port: portOption,
  autoApprove: z.email('must be an email address').optional(),
  account: z.array(accountOption).optional(),
  json: z.boolean().optional(),
})

/** The account every fresh simulator started from the command line has, unless `--account` says otherwise. */
export const DEFAULT_SIM_ACCOUNT = 'you@example.com'

/** Runs `codex-broker sim`. */
export async function runSim(rawOptions: unknown): Promise<void> {
  const options = parseOptions(simOptions, rawOptions)
  const accounts = options.account ?? [{ email: options.autoApprove ?? DEFAULT_SIM_ACCOUNT }]
  if (options.autoApprove && !accounts.some((account) => account.email === options.autoApprove)) {
    accounts.push({ email: options.autoApprove })
  }
  const sim = await startSimulator({
    port: options.port,
    accounts,
    config: { autoApprove: options.autoApprove ?? null },
  })
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ issuer: sim.issuer, backend: sim.backendBase, api: sim.apiBase, control: sim.controlBase })}\n`,
    )
  } else {
    process.stdout.write(
      [
        `codex-broker simulator listening on ${sim.issuer}`,
        `  issuer   ${sim.issuer}          (stands in for https://auth.openai.com)`,
        `  backend  ${sim.backendBase}  (stands in for https://chatgpt.com/backend-api)`,
        `  api      ${sim.apiBase}           (stands in for https://api.openai.com/v1)`,
        `  control  ${sim.controlBase}`,
        `  accounts ${accounts.map((account) => account.email).join(', ')}`,
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    )
  }
  await untilStopSignal()
  await sim.close()
}
