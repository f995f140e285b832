/**
 * What the server keeps per browser session: when it began and was last seen (for the idle and absolute timeouts),
 * the signed-in account (a reference into the credential store — the tokens themselves live there, never here),
 * and a device sign-in under way. The device authorization id is a `Secret` in memory; {@link encodeWebSession}
 * reveals it only into the JSON a store keeps (the Redis store encrypts that JSON), and {@link decodeWebSession}
 * validates every field on the way back, so a damaged record reads as no session rather than as a wrong one.
 */
import { z } from 'zod'
import { Secret } from '../lib/index.js'

/** The account a session is signed in to, as the browser may see it (plus the store id it may not). */
export interface SessionAccount {
  /** The credential store id holding this session's tokens (`web-…`); never sent to the browser. */
  readonly credentialId: string
  readonly email: string | null
  readonly plan: string | null
}

/** A device-code sign-in under way (PROTOCOL.md §3). */
export interface PendingLogin {
  readonly deviceAuthId: Secret
  readonly userCode: string
  readonly verificationUrl: string
  /** Unix milliseconds. */
  readonly expiresAt: number
  /** The issuer's poll interval, milliseconds (grows on `slow_down`). */
  readonly intervalMs: number
  /** The earliest time the server polls the issuer again, unix milliseconds. */
  readonly nextPollAt: number
}

/** Why the last sign-in ended without success, for `GET /status`. */
export interface LoginFailure {
  readonly code: string
  readonly message: string
}

/** One server-side session. */
export interface WebSession {
  /** Unix milliseconds; the absolute timeout counts from here. */
  readonly createdAt: number
  /** Unix milliseconds of the last request that refreshed the idle timer. */
  readonly lastSeenAt: number
  readonly account: SessionAccount | null
  readonly login: PendingLogin | null
  readonly loginFailure: LoginFailure | null
}

const recordSchema = z.object({
  v: z.literal(1),
  createdAt: z.number(),
  lastSeenAt: z.number(),
  account: z
    .object({
      credentialId: z.string().min(1),
      email: z.string().nullable(),
      plan: z.string().nullable(),
    })
    .nullable(),
  login: z
    .object({
      deviceAuthId: z.string().min(1),
      userCode: z.string().min(1),
      verificationUrl: z.string().min(1),
      expiresAt: z.number(),
      intervalMs: z.number().nonnegative(),
      nextPollAt: z.number(),
    })
    .nullable(),
  loginFailure: z.object({ code: z.string(), message: z.string() }).nullable(),
})

/**
 * A new anonymous session.
 * @example
 * await store.set(key, anonymousSession(clock.now()), ttl)
 */
export function anonymousSession(now: number): WebSession {
  return { createdAt: now, lastSeenAt: now, account: null, login: null, loginFailure: null }
}

/**
 * The JSON text a store keeps. It holds the device authorization id in clear: stores that leave the process
 * encrypt it.
 * @example
 * const text = encodeWebSession(session)
 */
export function encodeWebSession(session: WebSession): string {
  const { login } = session
  return JSON.stringify({
    v: 1,
    createdAt: session.createdAt,
    lastSeenAt: session.lastSeenAt,
    account: session.account,
    login: login === null ? null : { ...login, deviceAuthId: login.deviceAuthId.reveal() },
    loginFailure: session.loginFailure,
  })
}

/**
 * Reads what {@link encodeWebSession} wrote; null for anything else.
 * @example
 * const session = decodeWebSession(text) ?? anonymousSession(now)
 */
export function decodeWebSession(text: string): WebSession | null {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return null
  }
  const parsed = recordSchema.safeParse(json)
  if (!parsed.success) return null
  const { login, ...rest } = parsed.data
  return {
    createdAt: rest.createdAt,
    lastSeenAt: rest.lastSeenAt,
    account: rest.account,
    loginFailure: rest.loginFailure,
    login: login === null ? null : { ...login, deviceAuthId: Secret.from(login.deviceAuthId) },
  }
}
