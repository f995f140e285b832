// @vitest-environment happy-dom
import { act, cleanup, renderHook, waitFor } from '@testing-library/react'
import { StrictMode } from 'react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CodexClientError } from '../../src/react/errors.js'
import { HOLDING_SCREEN } from '../../src/react/holding-screen.js'
import { POPUP_NAME } from '../../src/react/sign-in-popup.js'
import type { CodexAuthOptions, UseCodexAuthResult } from '../../src/react/types.js'
import { useCodexAuth } from '../../src/react/use-codex-auth.js'
import {
  ACCOUNT,
  brokerError,
  CANARY,
  expectWellFormed,
  LOGIN_URL,
  loginStarted,
  ROUTES,
  sessionIn,
  sessionOut,
  statusExpired,
  statusIn,
  statusPending,
  USER_CODE,
} from './support/broker-fixtures.js'
import { createFakeFetch, deferred, json, ndjson, type FakeFetch } from './support/fake-fetch.js'
import { installFakeWindowOpen, type FakeWindowOpen } from './support/fake-popup.js'
import {
  createRecordingStorage,
  createThrowingStorage,
  type RecordingStorage,
} from './support/memory-storage.js'

let fakes: { fake: FakeFetch; credentials: RequestCredentials }[] = []

beforeEach(() => {
  fakes = []
})

afterEach(() => {
  cleanup()
  vi.useRealTimers()
  vi.restoreAllMocks()
  localStorage.clear()
  // Every request of every test carried the static header, the credentials and (on POST) a JSON body.
  for (const { fake, credentials } of fakes) expectWellFormed(fake.calls, credentials)
})

interface Harness {
  readonly fake: FakeFetch
  readonly popups: FakeWindowOpen
  readonly storage: RecordingStorage
  readonly log: string[]
  readonly auth: () => UseCodexAuthResult
  readonly unmount: () => void
}

/** Renders the hook against a fresh fake broker; `routes` configures it before the first render. */
function renderAuth(
  routes: (fake: FakeFetch) => void,
  options: Partial<CodexAuthOptions> & { blocked?: boolean } = {},
): Harness {
  const { blocked, ...hookOptions } = options
  const log: string[] = []
  const fake = createFakeFetch(log)
  fakes.push({ fake, credentials: hookOptions.credentials ?? 'same-origin' })
  routes(fake)
  const popups = installFakeWindowOpen({ blocked: blocked === true, log })
  const storage = createRecordingStorage()
  const { result, unmount } = renderHook(() =>
    useCodexAuth({ fetch: fake.fetch, storage, ...hookOptions }),
  )
  return { fake, popups, storage, log, auth: () => result.current, unmount }
}

const status = (harness: Harness): string => harness.auth().state.status

async function until(harness: Harness, expected: string): Promise<void> {
  await waitFor(() => {
    expect(status(harness)).toBe(expected)
  })
}

/** Runs `advance` ms of fake time inside act, with the promise jobs between timers. */
async function advance(ms: number): Promise<void> {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms)
  })
}

describe('session check on mount', () => {
  it('is checking, then logged_out when the broker says so', async () => {
    const gate = deferred<Response>()
    const harness = renderAuth((fake) => fake.on(ROUTES.session, gate.promise))
    expect(status(harness)).toBe('checking')
    gate.resolve(sessionOut())
    await until(harness, 'logged_out')
    expect(harness.auth().state).toEqual({ status: 'logged_out', error: null })
    expect(harness.fake.calls.map((call) => [call.route, call.body])).toEqual([
      [ROUTES.session, {}],
    ])
  })

  it('is logged_in with the account (and nothing else from the answer) when the broker says so', async () => {
    const harness = renderAuth((fake) => fake.on(ROUTES.session, sessionIn()))
    await until(harness, 'logged_in')
    expect(harness.auth().state).toEqual({ status: 'logged_in', account: ACCOUNT })
    expect(JSON.stringify(harness.auth().state)).not.toContain(CANARY)
  })

  it('is logged_out with network_error when the broker cannot be reached', async () => {
    const harness = renderAuth((fake) =>
      fake.on(ROUTES.session, () => Promise.reject(new TypeError('Failed to fetch'))),
    )
    await until(harness, 'logged_out')
    expect(harness.auth().state).toMatchObject({ error: { code: 'network_error' } })
  })

  it('is logged_out with the broker error code on a non-2xx answer', async () => {
    const harness = renderAuth((fake) =>
      fake.on(ROUTES.session, brokerError(403, 'forbidden_origin', 'Origin not allowed.')),
    )
    await until(harness, 'logged_out')
    expect(harness.auth().state).toEqual({
      status: 'logged_out',
      error: { code: 'forbidden_origin', message: 'Origin not allowed.' },
    })
  })

  it('uses the configured base URL and credentials on every call', async () => {
    const log: string[] = []
    const fake = createFakeFetch(log)
    fakes.push({ fake, credentials: 'include' })
    fake.on('POST /broker/session', sessionIn())
    fake.on('POST /broker/logout', json({ loggedIn: false }))
    const { result } = renderHook(() =>
      useCodexAuth({
        fetch: fake.fetch,
        baseUrl: 'https://broker.example/broker/',
        credentials: 'include',
        storage: null,
      }),
    )
    await waitFor(() => {
      expect(result.current.state.status).toBe('logged_in')
    })
    await act(() => result.current.signOut())
    expect(fake.calls.map((call) => call.url)).toEqual([
      'https://broker.example/broker/session',
      'https://broker.example/broker/logout',
    ])
  })

  it('offers the saved hint while checking', async () => {
    const fake = createFakeFetch()
    fakes.push({ fake, credentials: 'same-origin' })
    const gate = deferred<Response>()
    fake.on(ROUTES.session, gate.promise)
    const storage = createRecordingStorage({
      'codex-broker:auth': JSON.stringify({ loggedIn: true, savedAt: 1 }),
    })
    const { result } = renderHook(() => useCodexAuth({ fetch: fake.fetch, storage }))
    expect(result.current.state.status).toBe('checking')
    expect(result.current.hint).toBe(true)
    gate.resolve(sessionOut())
    await waitFor(() => {
      expect(result.current.state.status).toBe('logged_out')
    })
  })

  it('survives StrictMode (mount, unmount, mount): the first check is aborted, the second one counts', async () => {
    const fake = createFakeFetch()
    fakes.push({ fake, credentials: 'same-origin' })
    fake.on(ROUTES.session, sessionIn())
    const { result } = renderHook(() => useCodexAuth({ fetch: fake.fetch, storage: null }), {
      wrapper: StrictMode,
    })
    await waitFor(() => {
      expect(result.current.state.status).toBe('logged_in')
    })
    expect(fake.callsTo(ROUTES.session).map((call) => call.aborted)).toEqual([true, false])
  })

  it('re-reads the session on refresh (state comes from the server, PU-05)', async () => {
    const harness = renderAuth((fake) => fake.on(ROUTES.session, sessionOut(), sessionIn()))
    await until(harness, 'logged_out')
    await act(() => harness.auth().refresh())
    expect(harness.auth().state).toEqual({ status: 'logged_in', account: ACCOUNT })
  })
})

describe('sign-in', () => {
  it('opens the popup synchronously, before /login/start answers, with the static holding screen and no opener', async () => {
    const gate = deferred<Response>()
    const harness = renderAuth((fake) =>
      fake.on(ROUTES.session, sessionOut()).on(ROUTES.loginStart, gate.promise),
    )
    await until(harness, 'logged_out')

    act(() => {
      harness.auth().signIn()
    })
    // Synchronously within signIn(): the window exists, and only then was /login/start requested.
    expect(harness.popups.calls).toHaveLength(1)
    expect(harness.popups.calls[0]?.[0]).toBe('')
    expect(harness.popups.calls[0]?.[1]).toBe(POPUP_NAME)
    expect(String(harness.popups.calls[0]?.[2])).toMatch(/^popup,width=\d+,height=\d+$/)
    expect(harness.log).toEqual([
      `fetch ${ROUTES.session}`,
      'window.open',
      `fetch ${ROUTES.loginStart}`,
    ])
    const popup = harness.popups.last()
    expect(popup.opener()).toBeNull()
    expect(popup.hrefs).toEqual([])
    expect(popup.document.title).toBe(HOLDING_SCREEN.title)
    expect(popup.document.body.textContent).toBe(HOLDING_SCREEN.heading + HOLDING_SCREEN.body)
    expect(popup.document.querySelectorAll('script, a, iframe, form')).toHaveLength(0)
    expect(harness.auth().busy).toBe(true)

    gate.resolve(loginStarted())
    await until(harness, 'pending')
    expect(harness.auth().state).toMatchObject({
      status: 'pending',
      userCode: USER_CODE,
      loginUrl: LOGIN_URL,
      popupBlocked: false,
    })
    expect(popup.hrefs).toEqual([LOGIN_URL])
    expect(popup.closeCalls()).toBe(0)
    expect(harness.auth().busy).toBe(false)
    // The holding screen never received anything from the server.
    expect(popup.document.body.textContent).not.toContain(USER_CODE)
  })

  it('ignores a second sign-in while one is starting or pending', async () => {
    const gate = deferred<Response>()
    const harness = renderAuth((fake) =>
      fake
        .on(ROUTES.session, sessionOut())
        .on(ROUTES.loginStart, gate.promise)
        .on(ROUTES.status, statusPending()),
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
      harness.auth().signIn()
    })
    gate.resolve(loginStarted())
    await until(harness, 'pending')
    act(() => {
      harness.auth().signIn()
    })
    expect(harness.popups.calls).toHaveLength(1)
    expect(harness.fake.callsTo(ROUTES.loginStart)).toHaveLength(1)
  })

  it('goes pending → logged_in when /status says so, and closes the popup', async () => {
    const harness = renderAuth(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, loginStarted())
          .on(ROUTES.status, statusPending(), statusIn()),
      { pollIntervalMs: 250 },
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await until(harness, 'pending')
    const popup = harness.popups.last()
    await until(harness, 'logged_in')
    expect(harness.auth().state).toEqual({ status: 'logged_in', account: ACCOUNT })
    expect(harness.fake.callsTo(ROUTES.status)).toHaveLength(2)
    expect(popup.closeCalls()).toBe(1)
    expect(JSON.parse(harness.storage.data.get('codex-broker:auth') ?? 'null')).toMatchObject({
      loggedIn: true,
    })
  })

  it('goes pending → logged_out with the error when the sign-in expired or was denied', async () => {
    const harness = renderAuth(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, loginStarted())
          .on(ROUTES.status, statusExpired()),
      { pollIntervalMs: 250 },
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await until(harness, 'pending')
    await until(harness, 'logged_out')
    expect(harness.auth().state).toEqual({
      status: 'logged_out',
      error: { code: 'expired_token', message: 'The sign-in code expired.' },
    })
    expect(harness.popups.last().closeCalls()).toBe(1)
  })

  it('closes the popup and reports DEVICE_AUTH_NOT_ENABLED without navigating', async () => {
    const harness = renderAuth((fake) =>
      fake
        .on(ROUTES.session, sessionOut())
        .on(
          ROUTES.loginStart,
          json({ errorCode: 'DEVICE_AUTH_NOT_ENABLED', message: 'Enable device code sign-in.' }),
        ),
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await waitFor(() => {
      expect(harness.popups.last().closeCalls()).toBe(1)
    })
    expect(harness.auth().state).toEqual({
      status: 'logged_out',
      error: { code: 'DEVICE_AUTH_NOT_ENABLED', message: 'Enable device code sign-in.' },
    })
    expect(harness.popups.last().hrefs).toEqual([])
    expect(harness.fake.callsTo(ROUTES.status)).toHaveLength(0)
  })

  it('closes the popup and reports the broker error when /login/start fails', async () => {
    const harness = renderAuth((fake) =>
      fake
        .on(ROUTES.session, sessionOut())
        .on(ROUTES.loginStart, brokerError(429, 'rate_limited', 'Too many sign-ins.')),
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await waitFor(() => {
      expect(harness.popups.last().closeCalls()).toBe(1)
    })
    expect(harness.auth().state).toMatchObject({ error: { code: 'rate_limited' } })
    expect(harness.popups.last().hrefs).toEqual([])
  })

  it('is pending with popupBlocked when window.open returns null', async () => {
    const harness = renderAuth(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, loginStarted())
          .on(ROUTES.status, statusPending()),
      { blocked: true },
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await until(harness, 'pending')
    expect(harness.popups.calls).toHaveLength(1)
    expect(harness.auth().state).toMatchObject({ popupBlocked: true, loginUrl: LOGIN_URL })
  })

  it('is pending with popupBlocked when the user closed the popup before the code arrived', async () => {
    const gate = deferred<Response>()
    const harness = renderAuth((fake) =>
      fake
        .on(ROUTES.session, sessionOut())
        .on(ROUTES.loginStart, gate.promise)
        .on(ROUTES.status, statusPending()),
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    harness.popups.last().userCloses()
    gate.resolve(loginStarted())
    await until(harness, 'pending')
    expect(harness.auth().state).toMatchObject({ popupBlocked: true })
    expect(harness.popups.last().hrefs).toEqual([])
  })
})

describe('sign-in address validation', () => {
  const rejected: [string, string, readonly string[] | undefined][] = [
    ['javascript:', 'javascript:alert(document.cookie)', undefined],
    ['data:', 'data:text/html,<script>alert(1)</script>', undefined],
    ['http: on another host', 'http://evil.example/codex/device', undefined],
    ['https: on another host', 'https://evil.example/codex/device', undefined],
    ['a look-alike host', 'https://auth.openai.com.evil.com/codex/device', undefined],
    ['http: on the allowed host', 'http://auth.openai.com/codex/device', undefined],
    ['another port of the allowed host', 'https://auth.openai.com:8443/codex/device', undefined],
    ['credentials in the address', 'https://user:pw@auth.openai.com/codex/device', undefined],
    ['an unparsable string', 'not a url', undefined],
    ['a protocol-relative address', '//auth.openai.com/codex/device', undefined],
    ['loopback http: that is not listed', 'http://127.0.0.1:8787/codex/device', undefined],
    [
      'loopback http: on an unlisted port',
      'http://127.0.0.1:9999/codex/device',
      ['http://127.0.0.1:8787'],
    ],
  ]
  const accepted: [string, string, readonly string[] | undefined, string][] = [
    ['the default origin', LOGIN_URL, undefined, LOGIN_URL],
    [
      'the bare default origin (normalised)',
      'https://auth.openai.com',
      undefined,
      'https://auth.openai.com/',
    ],
    [
      'a listed loopback origin',
      'http://127.0.0.1:8787/codex/device',
      ['http://127.0.0.1:8787'],
      'http://127.0.0.1:8787/codex/device',
    ],
    [
      'listed localhost',
      'http://localhost:8787/codex/device',
      ['http://localhost:8787'],
      'http://localhost:8787/codex/device',
    ],
    [
      'listed [::1]',
      'http://[::1]:8787/codex/device',
      ['http://[::1]:8787'],
      'http://[::1]:8787/codex/device',
    ],
  ]

  async function signInWith(
    loginUrl: string,
    loginOrigins: readonly string[] | undefined,
  ): Promise<Harness> {
    const harness = renderAuth(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, loginStarted(loginUrl))
          .on(ROUTES.status, statusPending()),
      loginOrigins === undefined ? {} : { loginOrigins },
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await waitFor(() => {
      expect(harness.auth().busy).toBe(false)
    })
    return harness
  }

  it.each(rejected)(
    'rejects %s: popup closed, never navigated, error state',
    async (_name, url, origins) => {
      const harness = await signInWith(url, origins)
      const popup = harness.popups.last()
      expect(popup.hrefs).toEqual([])
      expect(popup.closeCalls()).toBe(1)
      expect(harness.auth().state).toEqual({
        status: 'logged_out',
        error: expect.objectContaining({ code: 'invalid_login_url' }) as unknown,
      })
      expect(harness.fake.callsTo(ROUTES.status)).toHaveLength(0)
    },
  )

  it.each(accepted)(
    'accepts %s (positive control): popup navigated, pending',
    async (_name, url, origins, href) => {
      const harness = await signInWith(url, origins)
      const popup = harness.popups.last()
      expect(popup.hrefs).toEqual([href])
      expect(popup.closeCalls()).toBe(0)
      expect(harness.auth().state).toMatchObject({ status: 'pending', loginUrl: href })
    },
  )

  it('rejects a plain-http entry of the allowed list itself (an origin must be https: or loopback)', async () => {
    const harness = await signInWith('http://auth.example/codex/device', ['http://auth.example'])
    expect(harness.popups.last().hrefs).toEqual([])
    expect(harness.auth().state).toMatchObject({ error: { code: 'invalid_login_url' } })
  })
})

describe('polling /status', () => {
  const delaysBetween = (times: readonly number[]): number[] =>
    times.slice(1).map((time, index) => time - (times[index] ?? 0))

  async function pendingWithFakeTimers(
    options: Partial<CodexAuthOptions>,
    expiresIn = 600_000,
    statusAnswer: () => Response | Promise<Response> = statusPending,
  ): Promise<{ harness: Harness; pollTimes: number[]; startedAt: number }> {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const pollTimes: number[] = []
    const startedAt = Date.now()
    const harness = renderAuth(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, () => loginStarted(LOGIN_URL, startedAt + expiresIn))
          .on(ROUTES.status, () => {
            pollTimes.push(Date.now() - startedAt)
            return statusAnswer()
          }),
      options,
    )
    await advance(0)
    expect(status(harness)).toBe('logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await advance(0)
    expect(status(harness)).toBe('pending')
    return { harness, pollTimes, startedAt }
  }

  it('backs off ×1.5 from 2000 ms to at most 10000 ms by default', async () => {
    const { pollTimes } = await pendingWithFakeTimers({})
    await advance(60_000)
    expect(pollTimes.slice(0, 7)).toEqual([2000, 5000, 9500, 16_250, 26_250, 36_250, 46_250])
    const delays = delaysBetween([0, ...pollTimes])
    expect(Math.min(...delays)).toBe(2000)
    expect(Math.max(...delays)).toBe(10_000)
  })

  it('honours pollIntervalMs and maxPollIntervalMs', async () => {
    const { pollTimes } = await pendingWithFakeTimers({
      pollIntervalMs: 500,
      maxPollIntervalMs: 1200,
    })
    await advance(6000)
    expect(delaysBetween([0, ...pollTimes]).slice(0, 6)).toEqual([500, 750, 1125, 1200, 1200, 1200])
  })

  it('never polls faster than every 250 ms, whatever the options say', async () => {
    const { pollTimes } = await pendingWithFakeTimers({ pollIntervalMs: 0, maxPollIntervalMs: 0 })
    await advance(1000)
    expect(pollTimes).toEqual([250, 500, 750, 1000])
  })

  it('stops at expiresAt (after one last poll) with login_expired, and closes the popup', async () => {
    const { harness, pollTimes } = await pendingWithFakeTimers({}, 7000)
    await advance(7000)
    expect(pollTimes).toEqual([2000, 5000, 7000])
    expect(harness.auth().state).toEqual({
      status: 'logged_out',
      error: expect.objectContaining({ code: 'login_expired' }) as unknown,
    })
    expect(harness.popups.last().closeCalls()).toBe(1)
    await advance(60_000)
    expect(pollTimes).toHaveLength(3)
  })

  it('keeps polling through a failed poll', async () => {
    let calls = 0
    const { harness, pollTimes } = await pendingWithFakeTimers({}, 600_000, () => {
      calls += 1
      return calls === 1 ? Promise.reject(new TypeError('Failed to fetch')) : statusIn()
    })
    await advance(2000)
    expect(status(harness)).toBe('pending')
    await advance(3000)
    expect(pollTimes).toEqual([2000, 5000])
    expect(status(harness)).toBe('logged_in')
  })

  it('stops polling and aborts the request in flight on unmount', async () => {
    const never = deferred<Response>()
    const { harness, pollTimes } = await pendingWithFakeTimers({}, 600_000, () => never.promise)
    await advance(2000)
    expect(pollTimes).toEqual([2000])
    const inFlight = harness.fake.callsTo(ROUTES.status)[0]
    expect(inFlight?.aborted).toBe(false)
    harness.unmount()
    expect(inFlight?.aborted).toBe(true)
    await advance(120_000)
    expect(pollTimes).toEqual([2000])
  })

  it('aborts the session check in flight on unmount', () => {
    const harness = renderAuth((fake) => fake.on(ROUTES.session, deferred<Response>().promise))
    const call = harness.fake.callsTo(ROUTES.session)[0]
    expect(call?.aborted).toBe(false)
    harness.unmount()
    expect(call?.aborted).toBe(true)
  })
})

describe('messages from other windows are never trusted (PU-02, PU-03)', () => {
  it('registers no message listener at all', async () => {
    const added = vi.spyOn(window, 'addEventListener')
    const harness = renderAuth((fake) =>
      fake
        .on(ROUTES.session, sessionOut())
        .on(ROUTES.loginStart, loginStarted())
        .on(ROUTES.status, statusPending()),
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await until(harness, 'pending')
    expect(added.mock.calls.map(([type]) => type)).not.toContain('message')
    expect(window.onmessage).toBeNull()
  })

  it('ignores {type:"login-complete"} from this window and from another source', async () => {
    const harness = renderAuth(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, loginStarted())
          .on(ROUTES.status, statusPending(), statusPending(), statusIn()),
      { pollIntervalMs: 60_000 },
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await until(harness, 'pending')
    const before = harness.auth().state
    const callsBefore = harness.fake.calls.length
    const message = { type: 'login-complete', loggedIn: true, account: ACCOUNT }

    await act(async () => {
      window.postMessage(message, '*')
      window.dispatchEvent(
        new MessageEvent('message', { data: message, origin: window.location.origin }),
      )
      window.dispatchEvent(
        new MessageEvent('message', {
          data: message,
          origin: window.location.origin,
          source: harness.popups.last().window,
        }),
      )
      window.dispatchEvent(
        new MessageEvent('message', { data: message, origin: 'https://evil.example' }),
      )
      await new Promise((resolve) => setTimeout(resolve, 50))
    })
    expect(harness.auth().state).toBe(before)
    expect(harness.fake.calls).toHaveLength(callsBefore)
    expect(harness.popups.last().closeCalls()).toBe(0)

    // Control: the harness does see a change when the server reports one.
    await act(() => harness.auth().refresh())
    expect(harness.fake.callsTo(ROUTES.session)).toHaveLength(2)
  })

  it('ignores a logout message while logged in', async () => {
    const harness = renderAuth((fake) => fake.on(ROUTES.session, sessionIn()))
    await until(harness, 'logged_in')
    const before = harness.auth().state
    await act(async () => {
      window.postMessage({ type: 'logout' }, '*')
      window.dispatchEvent(
        new MessageEvent('message', { data: { type: 'logout' }, origin: window.location.origin }),
      )
      await new Promise((resolve) => setTimeout(resolve, 50))
    })
    expect(harness.auth().state).toBe(before)
  })
})

describe('sign-out', () => {
  it('POSTs /logout and goes back to logged_out', async () => {
    const harness = renderAuth((fake) =>
      fake.on(ROUTES.session, sessionIn()).on(ROUTES.logout, json({ loggedIn: false })),
    )
    await until(harness, 'logged_in')
    await act(() => harness.auth().signOut())
    expect(harness.auth().state).toEqual({ status: 'logged_out', error: null })
    expect(harness.fake.callsTo(ROUTES.logout).map((call) => call.body)).toEqual([{}])
    expect(JSON.parse(harness.storage.data.get('codex-broker:auth') ?? 'null')).toMatchObject({
      loggedIn: false,
    })
  })

  it('sends everywhere: true when asked', async () => {
    const harness = renderAuth((fake) =>
      fake.on(ROUTES.session, sessionIn()).on(ROUTES.logout, json({ loggedIn: false })),
    )
    await until(harness, 'logged_in')
    await act(() => harness.auth().signOut({ everywhere: true }))
    expect(harness.fake.callsTo(ROUTES.logout).map((call) => call.body)).toEqual([
      { everywhere: true },
    ])
  })

  it('stops polling and closes the popup when called while pending', async () => {
    const harness = renderAuth(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, loginStarted())
          .on(ROUTES.status, statusIn())
          .on(ROUTES.logout, json({ loggedIn: false })),
      { pollIntervalMs: 300 },
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await until(harness, 'pending')
    await act(() => harness.auth().signOut())
    expect(harness.popups.last().closeCalls()).toBe(1)
    await act(() => new Promise((resolve) => setTimeout(resolve, 700)))
    expect(harness.fake.callsTo(ROUTES.status)).toHaveLength(0)
    expect(harness.auth().state).toEqual({ status: 'logged_out', error: null })
  })

  it('rejects and stays logged_in when the broker cannot be reached', async () => {
    const harness = renderAuth((fake) =>
      fake
        .on(ROUTES.session, sessionIn())
        .on(ROUTES.logout, () => Promise.reject(new TypeError('Failed to fetch'))),
    )
    await until(harness, 'logged_in')
    let failure: unknown
    await act(async () => {
      await harness
        .auth()
        .signOut()
        .catch((error: unknown) => {
          failure = error
        })
    })
    expect(failure).toBeInstanceOf(CodexClientError)
    expect((failure as CodexClientError).code).toBe('network_error')
    expect(status(harness)).toBe('logged_in')
  })
})

describe('run', () => {
  async function loggedInWith(runAnswer: () => Response): Promise<Harness> {
    const harness = renderAuth((fake) =>
      fake.on(ROUTES.session, sessionIn()).on(ROUTES.run, runAnswer),
    )
    await until(harness, 'logged_in')
    return harness
  }

  it('streams deltas to onText and resolves with the text and usage', async () => {
    const harness = await loggedInWith(() =>
      ndjson([
        '{"type":"text","delta":"Hel"}\n',
        '{"type":"text","delta":"lo"}\n{"type":"done","usage":{"output_tokens":2}}\n',
      ]),
    )
    const deltas: string[] = []
    const result = await act(() =>
      harness.auth().run('Say hello', { model: 'gpt-5', onText: (delta) => deltas.push(delta) }),
    )
    expect(result).toEqual({ text: 'Hello', usage: { output_tokens: 2 } })
    expect(deltas).toEqual(['Hel', 'lo'])
    expect(harness.fake.callsTo(ROUTES.run).map((call) => call.body)).toEqual([
      { prompt: 'Say hello', model: 'gpt-5' },
    ])
  })

  it('reassembles lines (and a UTF-8 character) split across chunks', async () => {
    const bytes = new TextEncoder().encode('{"type":"text","delta":"é"}\n')
    const cut = bytes.indexOf(0xc3) + 1 // between the two bytes of "é"
    const harness = await loggedInWith(() =>
      ndjson([
        '{"type":"te',
        'xt","delta":"a\\nb"}\n{"type":"text",',
        '"delta":"c"}\r\n\n',
        bytes.slice(0, cut),
        bytes.slice(cut),
        '{"type":"done","usage":null}',
      ]),
    )
    const deltas: string[] = []
    const result = await act(() =>
      harness.auth().run('x', { onText: (delta) => deltas.push(delta) }),
    )
    expect(deltas).toEqual(['a\nb', 'c', 'é'])
    expect(result).toEqual({ text: 'a\nbcé', usage: null })
  })

  it('rejects with the code of an error line', async () => {
    const harness = await loggedInWith(() =>
      ndjson([
        '{"type":"text","delta":"partial"}\n',
        '{"type":"error","code":"upstream_error","message":"The model failed."}\n',
        '{"type":"done","usage":null}\n',
      ]),
    )
    const deltas: string[] = []
    const failure = await act(() =>
      harness
        .auth()
        .run('x', { onText: (delta) => deltas.push(delta) })
        .then(
          () => null,
          (error: unknown) => error,
        ),
    )
    expect(failure).toBeInstanceOf(CodexClientError)
    expect(failure).toMatchObject({ code: 'upstream_error', message: 'The model failed.' })
    expect(deltas).toEqual(['partial'])
    expect(status(harness)).toBe('logged_in')
  })

  it.each([
    [409, 'run_in_progress'],
    [429, 'rate_limited'],
    [400, 'invalid_request'],
  ])('rejects with the code of a %i answer and stays logged_in', async (httpStatus, code) => {
    const harness = await loggedInWith(() => brokerError(httpStatus, code))
    const failure = await act(() =>
      harness
        .auth()
        .run('x')
        .then(
          () => null,
          (error: unknown) => error,
        ),
    )
    expect(failure).toMatchObject({ code, status: httpStatus })
    expect(status(harness)).toBe('logged_in')
  })

  it('moves to logged_out on a 401', async () => {
    const harness = await loggedInWith(() => brokerError(401, 'not_logged_in', 'Sign in first.'))
    const failure = await act(() =>
      harness
        .auth()
        .run('x')
        .then(
          () => null,
          (error: unknown) => error,
        ),
    )
    expect(failure).toMatchObject({ code: 'not_logged_in', status: 401 })
    expect(harness.auth().state).toEqual({
      status: 'logged_out',
      error: { code: 'not_logged_in', message: 'Sign in first.' },
    })
    expect(JSON.parse(harness.storage.data.get('codex-broker:auth') ?? 'null')).toMatchObject({
      loggedIn: false,
    })
  })

  it('rejects with stream_incomplete when the stream ends without done', async () => {
    const harness = await loggedInWith(() => ndjson(['{"type":"text","delta":"cut"}\n']))
    const failure = await act(() =>
      harness
        .auth()
        .run('x')
        .then(
          () => null,
          (error: unknown) => error,
        ),
    )
    expect(failure).toMatchObject({ code: 'stream_incomplete' })
  })

  it('rejects with invalid_response on a line that is not JSON', async () => {
    const harness = await loggedInWith(() => ndjson(['<html>oops</html>\n']))
    const failure = await act(() =>
      harness
        .auth()
        .run('x')
        .then(
          () => null,
          (error: unknown) => error,
        ),
    )
    expect(failure).toMatchObject({ code: 'invalid_response' })
  })

  it('rejects with the abort reason when the caller aborts', async () => {
    const harness = renderAuth((fake) =>
      fake.on(ROUTES.session, sessionIn()).on(ROUTES.run, deferred<Response>().promise),
    )
    await until(harness, 'logged_in')
    const controller = new AbortController()
    const pending = harness.auth().run('x', { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    expect(harness.fake.callsTo(ROUTES.run)[0]?.aborted).toBe(true)
  })
})

describe('what is persisted', () => {
  const isHint = (value: string): boolean => {
    const parsed: unknown = JSON.parse(value)
    return (
      typeof parsed === 'object' &&
      parsed !== null &&
      Object.keys(parsed).sort().join(',') === 'loggedIn,savedAt' &&
      typeof (parsed as { loggedIn: unknown }).loggedIn === 'boolean' &&
      typeof (parsed as { savedAt: unknown }).savedAt === 'number'
    )
  }
  const tokenLike = /eyJ[\w-]+\.|sk-|token|@|WXYZ/i

  it('the checks catch a bad write (control)', () => {
    expect(isHint(JSON.stringify({ loggedIn: true, savedAt: 1, token: CANARY }))).toBe(false)
    expect(isHint(JSON.stringify({ loggedIn: true, savedAt: 1 }))).toBe(true)
    expect(tokenLike.test(JSON.stringify({ t: CANARY }))).toBe(true)
    expect(tokenLike.test(JSON.stringify({ loggedIn: true, savedAt: 1 }))).toBe(false)
  })

  it('writes only {loggedIn, savedAt} under codex-broker:auth through a whole session', async () => {
    const harness = renderAuth(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, loginStarted())
          .on(ROUTES.status, statusIn())
          .on(ROUTES.run, ndjson(['{"type":"text","delta":"hi"}\n{"type":"done","usage":null}\n']))
          .on(ROUTES.logout, json({ loggedIn: false })),
      { pollIntervalMs: 250 },
    )
    await until(harness, 'logged_out')
    act(() => {
      harness.auth().signIn()
    })
    await until(harness, 'logged_in')
    await act(() => harness.auth().run('x'))
    await act(() => harness.auth().signOut())
    expect(harness.storage.writes.map((write) => write.key)).toEqual([
      'codex-broker:auth',
      'codex-broker:auth',
      'codex-broker:auth',
    ])
    expect(harness.storage.writes.map((write) => JSON.parse(write.value) as unknown)).toEqual([
      { loggedIn: false, savedAt: expect.any(Number) as unknown },
      { loggedIn: true, savedAt: expect.any(Number) as unknown },
      { loggedIn: false, savedAt: expect.any(Number) as unknown },
    ])
    for (const write of harness.storage.writes) {
      expect(isHint(write.value)).toBe(true)
      expect(write.value).not.toMatch(tokenLike)
    }
  })

  it('uses window.localStorage by default, with nothing else in it or in sessionStorage', async () => {
    const fake = createFakeFetch()
    fakes.push({ fake, credentials: 'same-origin' })
    fake.on(ROUTES.session, sessionIn())
    const { result } = renderHook(() => useCodexAuth({ fetch: fake.fetch }))
    await waitFor(() => {
      expect(result.current.state.status).toBe('logged_in')
    })
    expect(localStorage.length).toBe(1)
    const value = localStorage.getItem('codex-broker:auth') ?? ''
    expect(isHint(value)).toBe(true)
    expect(value).not.toMatch(tokenLike)
    expect(sessionStorage.length).toBe(0)
  })

  it('works with a storage that throws', async () => {
    const fake = createFakeFetch()
    fakes.push({ fake, credentials: 'same-origin' })
    fake.on(ROUTES.session, sessionIn()).on(ROUTES.logout, json({ loggedIn: false }))
    const { result } = renderHook(() =>
      useCodexAuth({ fetch: fake.fetch, storage: createThrowingStorage() }),
    )
    expect(result.current.hint).toBeNull()
    await waitFor(() => {
      expect(result.current.state.status).toBe('logged_in')
    })
    await act(() => result.current.signOut())
    expect(result.current.state.status).toBe('logged_out')
  })
})
