/**
 * The device-code sign-in (PROTOCOL.md §3), OpenAI's own protocol rather than RFC 8628, for machines without a
 * browser: `POST {issuer}/api/accounts/deviceauth/usercode` gives a device id, a user code and a poll interval
 * (a string); the user opens `{issuer}/codex/device` elsewhere and types the code; the broker polls
 * `POST {issuer}/api/accounts/deviceauth/token` every interval (403/404 = still pending) until it hands out an
 * authorization code together with the server-made PKCE verifier, then exchanges it like the browser flow with
 * `redirect_uri={issuer}/deviceauth/callback`.
 *
 * Borrowed from RFC 8628 where OpenAI's protocol is silent: the wait comes before each poll, a `slow_down`
 * answer adds 5 seconds to the interval for good, `expired_token` stops at once, and the user is warned about
 * remote phishing. The device id is a `Secret` and is never shown or logged; only the URL, the user code and the
 * expiry reach `onCode`. All waits go through the injected `Clock`, and the signal cancels at any point.
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.4
 */
import { z } from 'zod'
import { BrokerError, type Clock, isBrokerError, Secret, systemClock } from '../lib/index.js'
import { exchangeAuthorizationCode } from './code-exchange.js'
import { DEVICE_CODE_TTL_MS } from './constants.js'
import { issuerBase, issuerEndpoint } from './endpoint-url.js'
import { grantRefused, issuerErrorCode } from './issuer-error.js'
import { jsonRequest, readIssuerReply, refuseRedirect, sendToIssuer } from './issuer-http.js'
import type { IssuerConfig, TokenSet } from './token-response.js'

/**
 * The phishing warning to show with every device code (RFC 8628 §5.4).
 * @example
 * console.log(`${userCode}\n${DEVICE_CODE_PHISHING_WARNING}`)
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.4
 */
export const DEVICE_CODE_PHISHING_WARNING =
  'Device codes are a common phishing target. Never share this code.'

/**
 * What to do when the issuer has device-code sign-in switched off for the account.
 * @example
 * if (isBrokerError(error, 'ERR_DEVICE_AUTH_NOT_ENABLED')) console.error(DEVICE_AUTH_NOT_ENABLED_ADVICE)
 */
export const DEVICE_AUTH_NOT_ENABLED_ADVICE =
  'Enable device code sign-in in ChatGPT Settings → Security, or use the browser sign-in (codex-broker login without --device).'

/** The interval when the issuer's is missing or unreadable (RFC 8628 §3.2). */
export const DEFAULT_DEVICE_POLL_INTERVAL_SECONDS = 5

/** The longest interval honoured; a larger one is capped. */
export const MAX_DEVICE_POLL_INTERVAL_SECONDS = 60

/** Seconds added to the interval by each `slow_down` (RFC 8628 §3.5). */
export const SLOW_DOWN_STEP_SECONDS = 5

/** A started device authorization. */
export interface DeviceCodeHandle {
  /** The issuer's id of this authorization; secret, never shown. */
  deviceAuthId: Secret
  /** The code the user types, e.g. `ABCD-EFGH`. */
  userCode: string
  /** Seconds between polls, as announced by the issuer. */
  intervalSeconds: number
  /** Where the user types the code: `{issuer}/codex/device`. */
  verificationUrl: string
  /** When the code stops working (unix milliseconds, 15 minutes after it was issued). */
  expiresAt: number
}

/** What the user must see: the URL, the code, the expiry and the phishing warning. */
export interface DeviceCodePrompt {
  verificationUrl: string
  userCode: string
  /** Unix milliseconds. */
  expiresAt: number
  /** {@link DEVICE_CODE_PHISHING_WARNING}. */
  warning: string
}

/** An approved device authorization: the code and the server-made PKCE verifier. */
export interface DeviceAuthorization {
  authorizationCode: Secret
  codeVerifier: Secret
}

/** One poll's meaning. */
export type DevicePollOutcome =
  | { kind: 'authorized'; authorization: DeviceAuthorization }
  | { kind: 'pending' }
  | { kind: 'slow_down' }

const userCodeResponseSchema = z
  .object({
    device_auth_id: z.string().min(1),
    user_code: z.string().min(1).optional(),
    usercode: z.string().min(1).optional(),
    interval: z.union([z.string(), z.number()]).optional(),
  })
  .loose()

const deviceTokenResponseSchema = z
  .object({
    authorization_code: z.string().min(1),
    code_verifier: z.string().min(1),
  })
  .loose()

/**
 * The request that starts a device authorization: JSON `{client_id}`.
 * @example
 * const request = buildUserCodeRequest(config)
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.1
 */
export function buildUserCodeRequest(config: IssuerConfig): Request {
  return jsonRequest(issuerEndpoint(config.issuer, '/api/accounts/deviceauth/usercode'), {
    client_id: config.clientId,
  })
}

/**
 * Reads the user-code answer (`interval` as a string or a number, `usercode` as an alias of `user_code`). A 404
 * is `ERR_DEVICE_AUTH_NOT_ENABLED` with {@link DEVICE_AUTH_NOT_ENABLED_ADVICE}.
 * @example
 * const handle = await processUserCodeResponse(response, { issuer: config.issuer, now: Date.now() })
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.2
 */
export async function processUserCodeResponse(
  response: Response,
  context: { issuer: string; now: number },
): Promise<DeviceCodeHandle> {
  const what = 'device code request'
  await refuseRedirect(response, what)
  const reply = await readIssuerReply(response, what)
  if (reply.status === 404) {
    throw new BrokerError(
      'ERR_DEVICE_AUTH_NOT_ENABLED',
      `Device code sign-in is not enabled for this account. ${DEVICE_AUTH_NOT_ENABLED_ADVICE}`,
      { hint: DEVICE_AUTH_NOT_ENABLED_ADVICE },
    )
  }
  if (reply.status < 200 || reply.status > 299) throw grantRefused(what, reply.status, reply.json)
  const parsed = userCodeResponseSchema.safeParse(reply.json)
  const userCode = parsed.success ? (parsed.data.user_code ?? parsed.data.usercode) : undefined
  if (!parsed.success || userCode === undefined) {
    throw new BrokerError(
      'ERR_UPSTREAM_BAD_RESPONSE',
      `The issuer's answer to the ${what} has no device_auth_id or user_code.`,
    )
  }
  const base = issuerBase(context.issuer)
  return {
    deviceAuthId: Secret.from(parsed.data.device_auth_id),
    userCode,
    intervalSeconds: intervalOf(parsed.data.interval),
    verificationUrl: `${base}/codex/device`,
    expiresAt: context.now + DEVICE_CODE_TTL_MS,
  }
}

/**
 * Starts a device authorization.
 * @example
 * const handle = await requestDeviceCode(config)
 * show(handle.verificationUrl, handle.userCode, DEVICE_CODE_PHISHING_WARNING)
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.1
 */
export async function requestDeviceCode(
  config: IssuerConfig,
  options: { clock?: Clock; signal?: AbortSignal } = {},
): Promise<DeviceCodeHandle> {
  const clock = options.clock ?? systemClock
  const request = buildUserCodeRequest(config)
  try {
    const response = await sendToIssuer(config, request, 'device code request', {
      signal: options.signal,
    })
    return await processUserCodeResponse(response, { issuer: config.issuer, now: clock.now() })
  } catch (error) {
    if (options.signal?.aborted === true) throw cancelledError(error)
    throw error
  }
}

/**
 * One poll: JSON `{device_auth_id, user_code}`.
 * @example
 * const request = buildDeviceTokenRequest(config, handle)
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.4
 */
export function buildDeviceTokenRequest(config: IssuerConfig, handle: DeviceCodeHandle): Request {
  return jsonRequest(issuerEndpoint(config.issuer, '/api/accounts/deviceauth/token'), {
    device_auth_id: handle.deviceAuthId.reveal(),
    user_code: handle.userCode,
  })
}

/**
 * Reads one poll's answer: 2xx → authorized; `slow_down` → slow down; 403/404 (or `authorization_pending`) →
 * pending; `expired_token` or 410 → `ERR_DEVICE_CODE_EXPIRED`; anything else throws (fatal).
 * @example
 * const outcome = await processDeviceTokenResponse(response)
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 */
export async function processDeviceTokenResponse(response: Response): Promise<DevicePollOutcome> {
  const what = 'device code poll'
  await refuseRedirect(response, what)
  const reply = await readIssuerReply(response, what)
  if (reply.status >= 200 && reply.status <= 299) {
    const parsed = deviceTokenResponseSchema.safeParse(reply.json)
    if (!parsed.success) {
      throw new BrokerError(
        'ERR_UPSTREAM_BAD_RESPONSE',
        `The issuer's answer to the ${what} has no authorization_code or code_verifier.`,
      )
    }
    return {
      kind: 'authorized',
      authorization: {
        authorizationCode: Secret.from(parsed.data.authorization_code),
        codeVerifier: Secret.from(parsed.data.code_verifier),
      },
    }
  }
  const code = issuerErrorCode(reply.json)
  if (code === 'slow_down') return { kind: 'slow_down' }
  if (code === 'expired_token' || reply.status === 410) throw expiredError()
  if (
    reply.status === 403 ||
    reply.status === 404 ||
    code === 'authorization_pending' ||
    code === 'deviceauth_authorization_pending'
  ) {
    return { kind: 'pending' }
  }
  throw grantRefused(what, reply.status, reply.json, 'Run codex-broker login --device again.')
}

/**
 * Polls until the user approves the code: waits the interval (via `clock`) before each poll, adds 5 s for good
 * on `slow_down`, gives up at `handle.expiresAt` with `ERR_DEVICE_CODE_EXPIRED`, and ends with
 * `ERR_LOGIN_CANCELLED` when `signal` aborts.
 * @example
 * const { authorizationCode, codeVerifier } = await pollDeviceAuthorization(config, handle, { signal })
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.4
 */
export async function pollDeviceAuthorization(
  config: IssuerConfig,
  handle: DeviceCodeHandle,
  options: { clock?: Clock; signal?: AbortSignal } = {},
): Promise<DeviceAuthorization> {
  const clock = options.clock ?? systemClock
  const { signal } = options
  let intervalMs = handle.intervalSeconds * 1000
  try {
    for (;;) {
      const remaining = handle.expiresAt - clock.now()
      if (remaining <= 0) throw expiredError()
      if (signal?.aborted === true) throw cancelledError()
      await clock.sleep(Math.min(intervalMs, remaining), signal)
      if (clock.now() >= handle.expiresAt) throw expiredError()
      const request = buildDeviceTokenRequest(config, handle)
      const response = await sendToIssuer(config, request, 'device code poll', { signal })
      const outcome = await processDeviceTokenResponse(response)
      if (outcome.kind === 'authorized') return outcome.authorization
      if (outcome.kind === 'slow_down') intervalMs += SLOW_DOWN_STEP_SECONDS * 1000
    }
  } catch (error) {
    if (signal?.aborted === true && !isBrokerError(error, 'ERR_LOGIN_CANCELLED')) {
      throw cancelledError(error)
    }
    throw error
  }
}

/** Options of {@link loginWithDeviceCode}. */
export interface DeviceLoginOptions {
  /** The issuer and client. */
  config: IssuerConfig
  /**
   * Shows the user where to go and what to type, with the phishing warning. Never receives the device id.
   */
  onCode: (prompt: DeviceCodePrompt) => void | Promise<void>
  /** Time source for the polling and the expiry (default: the system clock). */
  clock?: Clock
  /** Cancels the sign-in (`ERR_LOGIN_CANCELLED`). */
  signal?: AbortSignal
}

/**
 * The whole device-code sign-in: user code → `onCode` → polling → code exchange with
 * `redirect_uri={issuer}/deviceauth/callback` and the server's verifier. No API-key exchange.
 * @example
 * const tokens = await loginWithDeviceCode({
 *   config,
 *   onCode: ({ verificationUrl, userCode, warning }) => console.log(verificationUrl, userCode, warning),
 * })
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3
 */
export async function loginWithDeviceCode(options: DeviceLoginOptions): Promise<TokenSet> {
  const { config, signal } = options
  const clockOption = options.clock === undefined ? {} : { clock: options.clock }
  const signalOption = signal === undefined ? {} : { signal }
  const base = issuerBase(config.issuer)
  const handle = await requestDeviceCode(config, { ...clockOption, ...signalOption })
  await options.onCode({
    verificationUrl: handle.verificationUrl,
    userCode: handle.userCode,
    expiresAt: handle.expiresAt,
    warning: DEVICE_CODE_PHISHING_WARNING,
  })
  const authorization = await pollDeviceAuthorization(config, handle, {
    ...clockOption,
    ...signalOption,
  })
  if (signal?.aborted === true) throw cancelledError()
  return exchangeAuthorizationCode(config, {
    code: authorization.authorizationCode,
    redirectUri: `${base}/deviceauth/callback`,
    codeVerifier: authorization.codeVerifier,
  })
}

function intervalOf(value: string | number | undefined): number {
  const seconds =
    typeof value === 'string' ? Number(value.trim() === '' ? NaN : value.trim()) : value
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return DEFAULT_DEVICE_POLL_INTERVAL_SECONDS
  }
  return Math.min(Math.ceil(seconds), MAX_DEVICE_POLL_INTERVAL_SECONDS)
}

function expiredError(): BrokerError {
  return new BrokerError(
    'ERR_DEVICE_CODE_EXPIRED',
    'The device code expired before it was approved (codes are valid for 15 minutes).',
    { hint: 'Run codex-broker login --device again.' },
  )
}

function cancelledError(cause?: unknown): BrokerError {
  return new BrokerError('ERR_LOGIN_CANCELLED', 'The sign-in was cancelled.', { cause })
}
