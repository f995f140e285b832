/**
 * Authentication of the OpenAI API route (`/v1/*`, PROTOCOL.md §8): `Authorization: Bearer sk-…` naming a key
 * the simulator minted. Refusals are the API's own 401s; an incorrect key is shown masked (its recognisable
 * prefix and at most its last four characters, like the real message), never in full.
 */
import { bearerToken, SimHttpError, type SimRequestContext } from '../http.js'

/** What the simulator remembers about an API key; also the owner of its prompt cache. */
export type ApiKeyRecord = { accountId: string | null }

/** Answers the key's record, or throws the 401. */
export function authenticateApiKey(ctx: SimRequestContext): ApiKeyRecord {
  const key = bearerToken(ctx.req)
  if (key === null) {
    throw unauthorized(
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      null,
    )
  }
  const record = ctx.state.apiKeys.get(key)
  if (!record) {
    throw unauthorized(
      `Incorrect API key provided: ${maskApiKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      'invalid_api_key',
    )
  }
  return record
}

/**
 * A key as an error message may show it: the non-secret prefix (`sk-`, `sk-proj-`, …), stars, and the last four
 * characters only when at least sixteen others stay hidden.
 */
export function maskApiKey(key: string): string {
  const prefix = /^sk-(?:proj-|svcacct-|admin-)?/.exec(key)?.[0] ?? ''
  const rest = key.slice(prefix.length)
  return rest.length < 20 ? `${prefix}****` : `${prefix}********${rest.slice(-4)}`
}

function unauthorized(message: string, code: string | null): SimHttpError {
  return new SimHttpError(401, {
    error: { message, type: 'invalid_request_error', param: null, code },
  })
}
