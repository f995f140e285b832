/**
 * The request headers the Codex backend expects (PROTOCOL.md §7), built in one place so every client of the
 * backend — usage, models, responses — identifies itself the same way and never forgets the account id.
 */
import { arch, release, type } from 'node:os'
import type { Secret } from '../lib/index.js'

/** Who is calling: the `originator` header and the version in the user agent. */
export interface ClientIdentity {
  /** `codex_cli_rs` by default (the Codex CLI's), or the embedding client's name. */
  originator: string
  /** The calling program's version. */
  version: string
}

/** `<originator>/<version> (<os> <os version>; <arch>)`, as the Codex CLI sends it. */
export function userAgent(identity: ClientIdentity): string {
  return `${identity.originator}/${identity.version} (${type()} ${release()}; ${arch()})`
}

/** Headers for a backend request carrying the account's access token. */
export function codexHeaders(
  identity: ClientIdentity,
  credentials: { accessToken: Secret; chatgptAccountId: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    authorization: `Bearer ${credentials.accessToken.reveal()}`,
    'chatgpt-account-id': credentials.chatgptAccountId,
    originator: identity.originator,
    'user-agent': userAgent(identity),
    ...extra,
  }
}
