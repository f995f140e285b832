/**
 * `codex-broker logout [ACCOUNT] [--everywhere]`. A plain logout forgets the account on this machine only.
 * `--everywhere` first revokes the refresh token at the issuer, which signs the account out on every machine and
 * program that shares its chain; if the revocation fails, nothing local is deleted.
 */
import { z } from 'zod'
import { revokeRefreshToken } from '../../oauth/index.js'
import { describe, findAccount } from '../account-ref.js'
import { resolveEnvironment } from '../environment.js'
import { parseOptions } from '../options.js'
import { CliOutput } from '../output.js'
import { openServices } from '../services.js'
import { accountView } from './accounts.js'

const logoutFlags = z.object({ everywhere: z.boolean().optional() })

/** Runs `codex-broker logout`. */
export async function runLogout(
  reference: string | undefined,
  flags: Record<string, unknown>,
): Promise<void> {
  const out = new CliOutput(flags.json === true)
  try {
    const options = parseOptions(logoutFlags, flags)
    const { store, issuer } = await openServices(resolveEnvironment(flags))
    const account = await findAccount(store, reference)
    if (options.everywhere === true && account.auth.kind === 'chatgpt') {
      await revokeRefreshToken(issuer, account.auth.refreshToken)
      out.note(`Revoked ${describe(account)} at the issuer: it is signed out everywhere.`)
    }
    await store.remove(account.id)
    out.event('logged_out', {
      account: accountView(account),
      everywhere: options.everywhere === true,
    })
    out.say(`Signed out ${describe(account)} on this machine.`)
  } catch (error) {
    out.fail(error)
  }
}
