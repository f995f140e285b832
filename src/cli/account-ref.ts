/**
 * Finding the account a person means: commands take an account id, an email or a label, and a person with a
 * single account may leave it out. Ambiguity is an error that lists the candidates, never a guess.
 */
import { BrokerError } from '../lib/index.js'
import type { CredentialStore, StoredAccount } from '../store/index.js'

/** Resolves `reference` (id, email or label; optional when there is exactly one account). */
export async function findAccount(
  store: CredentialStore,
  reference: string | undefined,
): Promise<StoredAccount> {
  const accounts = await store.list()
  if (accounts.length === 0) {
    throw new BrokerError('ERR_NOT_FOUND', 'No accounts yet.', {
      hint: 'Sign in first: codex-broker login',
    })
  }
  if (reference === undefined) {
    const [only] = accounts
    if (accounts.length === 1 && only) return only
    throw new BrokerError('ERR_INVALID_CONFIG', 'Several accounts: say which one.', {
      hint: `One of: ${accounts.map(describe).join(', ')}`,
    })
  }
  const wanted = reference.toLowerCase()
  const matches = accounts.filter(
    (account) =>
      account.id === reference ||
      account.email?.toLowerCase() === wanted ||
      account.label?.toLowerCase() === wanted,
  )
  const [match] = matches
  if (matches.length === 1 && match) return match
  if (matches.length === 0) {
    throw new BrokerError('ERR_NOT_FOUND', `No account matches "${reference}".`, {
      hint: `Accounts: ${accounts.map(describe).join(', ')}`,
    })
  }
  throw new BrokerError(
    'ERR_INVALID_CONFIG',
    `"${reference}" matches several accounts; use the id.`,
    {
      hint: `Candidates: ${matches.map(describe).join(', ')}`,
    },
  )
}

/** `email (id)` or `label (id)`, for messages. */
export function describe(account: StoredAccount): string {
  const name = account.label ?? account.email ?? account.auth.kind
  return `${name} (${account.id})`
}
