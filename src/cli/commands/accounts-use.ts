/**
 * `codex-broker accounts use ACCOUNT` pins the proxy's pool to one account (it then uses that one or none, and says
 * so when it cannot); `accounts use --clear` unpins. The pin lives with the pool's shared health in the home's
 * quota.json, so every proxy on this home follows it from its next start.
 */
import { FilePoolStateStore } from '../../accounts/index.js'
import { BrokerError } from '../../lib/index.js'
import { describe, findAccount } from '../account-ref.js'
import { resolveEnvironment } from '../environment.js'
import { CliOutput } from '../output.js'
import { openServices } from '../services.js'

/** Runs `codex-broker accounts use [ACCOUNT] [--clear]`. */
export async function runAccountsUse(
  reference: string | undefined,
  flags: Record<string, unknown>,
): Promise<void> {
  const out = new CliOutput(flags.json === true)
  try {
    const env = resolveEnvironment(flags)
    const state = new FilePoolStateStore({ home: env.home })
    try {
      if (flags.clear === true) {
        if (reference !== undefined) {
          throw new BrokerError('ERR_INVALID_CONFIG', 'Give an account or --clear, not both.')
        }
        await state.setPinned(null)
        out.event('unpinned', {})
        out.say('Unpinned: the proxy picks among all accounts again.')
        return
      }
      if (reference === undefined) {
        const pinned = await state.pinned()
        out.event('pinned', { accountId: pinned })
        out.say(pinned === null ? 'No account is pinned.' : `Pinned: ${pinned}`)
        return
      }
      const { store } = await openServices(env)
      const account = await findAccount(store, reference)
      await state.setPinned(account.id)
      out.event('pinned', { accountId: account.id })
      out.say(
        `Pinned ${describe(account)}: the proxy uses only this account (unpin: codex-broker accounts use --clear).`,
      )
    } finally {
      await state.close()
    }
  } catch (error) {
    out.fail(error)
  }
}
