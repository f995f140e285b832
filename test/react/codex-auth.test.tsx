// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CodexAuth } from '../../src/react/codex-auth.js'
import type { CodexAuthProps } from '../../src/react/codex-auth.js'
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

let fakes: FakeFetch[] = []

afterEach(() => {
  cleanup()
  vi.restoreAllMocks()
  localStorage.clear()
  for (const fake of fakes) expectWellFormed(fake.calls)
  fakes = []
})

function renderComponent(
  routes: (fake: FakeFetch) => void,
  props: Partial<CodexAuthProps> & { blocked?: boolean } = {},
): { fake: FakeFetch; popups: FakeWindowOpen; log: string[]; container: HTMLElement } {
  const { blocked, ...rest } = props
  const log: string[] = []
  const fake = createFakeFetch(log)
  fakes.push(fake)
  routes(fake)
  const popups = installFakeWindowOpen({ blocked: blocked === true, log })
  const { container } = render(<CodexAuth fetch={fake.fetch} storage={null} {...rest} />)
  return { fake, popups, log, container }
}

const signInButton = (): Promise<HTMLElement> =>
  screen.findByRole('button', { name: 'Sign in with ChatGPT' })

describe('<CodexAuth> default UI', () => {
  it('walks checking → logged_out → pending → logged_in → logged_out', async () => {
    const session = deferred<Response>()
    const { popups } = renderComponent(
      (fake) =>
        fake
          .on(ROUTES.session, session.promise)
          .on(ROUTES.loginStart, loginStarted())
          .on(ROUTES.status, statusPending(), statusIn())
          .on(ROUTES.logout, json({ loggedIn: false })),
      { pollIntervalMs: 250 },
    )
    expect(screen.getByTestId('codex-auth-checking').textContent).toBe('Checking sign-in…')
    expect(screen.getByTestId('codex-auth').getAttribute('data-state')).toBe('checking')

    session.resolve(sessionOut())
    fireEvent.click(await signInButton())

    expect(await screen.findByTestId('codex-auth-user-code')).toHaveProperty(
      'textContent',
      USER_CODE,
    )
    expect(screen.getByTestId('codex-auth-instructions').textContent).toMatch(
      /enter this code at the .*sign-in page/i,
    )
    expect(screen.getByRole('button', { name: 'Copy the code' })).toBeTruthy()
    expect(screen.queryByTestId('codex-auth-login-link')).toBeNull()
    expect(screen.getByTestId('codex-auth-waiting').getAttribute('role')).toBe('status')
    // The page cannot close a popup whose opener it severed: the person is told to.
    expect(screen.getByTestId('codex-auth-waiting').textContent).toContain('close the sign-in')
    expect(popups.last().hrefs).toEqual([LOGIN_URL])

    const account = await screen.findByTestId('codex-auth-account')
    expect(account.textContent).toBe(`Signed in as ${ACCOUNT.email} (${ACCOUNT.plan})`)
    expect(screen.getByLabelText('Prompt').tagName).toBe('TEXTAREA')
    expect(screen.getByRole('button', { name: 'Send' })).toBeTruthy()
    expect(popups.last().closeCalls()).toBe(1)

    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }))
    await signInButton()
    expect(screen.getByTestId('codex-auth').getAttribute('data-state')).toBe('logged_out')
  })

  it('opens the popup inside the click, before /login/start answers', async () => {
    const gate = deferred<Response>()
    const { popups, log } = renderComponent((fake) =>
      fake.on(ROUTES.session, sessionOut()).on(ROUTES.loginStart, gate.promise),
    )
    const button = await signInButton()
    fireEvent.click(button)
    // No await between the click and these checks: the window was opened synchronously by the click.
    expect(popups.calls).toHaveLength(1)
    expect(log.indexOf('window.open')).toBeLessThan(log.indexOf(`fetch ${ROUTES.loginStart}`))
    expect(popups.last().opener()).toBeNull()
    expect(popups.last().hrefs).toEqual([])
    await act(async () => {
      gate.resolve(loginStarted())
      await gate.promise
    })
    await screen.findByTestId('codex-auth-user-code')
  })

  it('shows the error and the sign-in button again when the code expired', async () => {
    renderComponent(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, loginStarted())
          .on(ROUTES.status, statusExpired()),
      { pollIntervalMs: 250 },
    )
    fireEvent.click(await signInButton())
    await screen.findByTestId('codex-auth-user-code')
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toBe('The sign-in code expired.')
    expect(await signInButton()).toBeTruthy()
  })

  it('goes back to the sign-in button on a 401 from a run', async () => {
    renderComponent((fake) =>
      fake
        .on(ROUTES.session, sessionIn())
        .on(ROUTES.run, brokerError(401, 'not_logged_in', 'Sign in first.')),
    )
    fireEvent.change(await screen.findByLabelText('Prompt'), { target: { value: 'hi' } })
    fireEvent.click(screen.getByRole('button', { name: 'Send' }))
    await signInButton()
    expect(screen.getByTestId('codex-auth-error').textContent).toBe('Sign in first.')
  })
})

describe('popup blocked', () => {
  it('offers a link to the validated sign-in page with rel="noopener noreferrer"', async () => {
    renderComponent(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, loginStarted())
          .on(ROUTES.status, statusPending()),
      { blocked: true },
    )
    fireEvent.click(await signInButton())
    const link = await screen.findByTestId('codex-auth-login-link')
    expect(link.tagName).toBe('A')
    expect(link.getAttribute('href')).toBe(LOGIN_URL)
    expect(link.getAttribute('target')).toBe('_blank')
    expect(link.getAttribute('rel')).toBe('noopener noreferrer')
    expect(screen.getByTestId('codex-auth-user-code').textContent).toBe(USER_CODE)
  })

  it('renders no link when the address is not allowed (the link check above is the control)', async () => {
    const { container } = renderComponent(
      (fake) =>
        fake
          .on(ROUTES.session, sessionOut())
          .on(ROUTES.loginStart, loginStarted('javascript:alert(1)'))
          .on(ROUTES.status, statusPending()),
      { blocked: true },
    )
    fireEvent.click(await signInButton())
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toMatch(/not on the allowed list/)
    expect(container.querySelectorAll('a')).toHaveLength(0)
    expect(container.innerHTML).not.toContain('javascript:')
  })
})

describe('copy button', () => {
  async function pending(): Promise<void> {
    renderComponent((fake) =>
      fake
        .on(ROUTES.session, sessionOut())
        .on(ROUTES.loginStart, loginStarted())
        .on(ROUTES.status, statusPending()),
    )
    fireEvent.click(await signInButton())
    await screen.findByTestId('codex-auth-user-code')
  }

  it('copies the user code', async () => {
    const writeText = vi.fn((_text: string) => Promise.resolve())
    vi.spyOn(navigator, 'clipboard', 'get').mockReturnValue({ writeText } as unknown as Clipboard)
    await pending()
    fireEvent.click(screen.getByRole('button', { name: 'Copy the code' }))
    expect(writeText).toHaveBeenCalledWith(USER_CODE)
    await waitFor(() => {
      expect(screen.getByTestId('codex-auth-copy').textContent).toBe('Copied')
    })
  })

  it('says so when the clipboard is missing or refuses', async () => {
    vi.spyOn(navigator, 'clipboard', 'get').mockReturnValue(undefined as unknown as Clipboard)
    await pending()
    fireEvent.click(screen.getByRole('button', { name: 'Copy the code' }))
    expect(screen.getByTestId('codex-auth-copy').textContent).toBe('Copy failed')
  })

  it('says so when writeText rejects', async () => {
    const writeText = vi.fn(() => Promise.reject(new DOMException('denied', 'NotAllowedError')))
    vi.spyOn(navigator, 'clipboard', 'get').mockReturnValue({ writeText } as unknown as Clipboard)
    await pending()
    fireEvent.click(screen.getByRole('button', { name: 'Copy the code' }))
    await waitFor(() => {
      expect(screen.getByTestId('codex-auth-copy').textContent).toBe('Copy failed')
    })
  })
})

describe('streamed answer', () => {
  const hostile = '<img src=x onerror=alert(1)> and <b>bold</b>'

  it('renders markup in the answer as literal text, creating no element', async () => {
    const { container, fake } = renderComponent((fake) =>
      fake
        .on(ROUTES.session, sessionIn())
        .on(
          ROUTES.run,
          ndjson([
            `${JSON.stringify({ type: 'text', delta: '<img src=x onerror=alert(1)>' })}\n`,
            `${JSON.stringify({ type: 'text', delta: ' and <b>bold</b>' })}\n`,
            '{"type":"done","usage":null}\n',
          ]),
        ),
    )
    fireEvent.change(await screen.findByLabelText('Prompt'), { target: { value: 'be evil' } })
    fireEvent.click(screen.getByRole('button', { name: 'Send' }))
    const answer = screen.getByTestId('codex-auth-answer')
    await waitFor(() => {
      expect(answer.textContent).toBe(hostile)
    })
    expect(container.querySelector('img')).toBeNull()
    expect(container.querySelector('b')).toBeNull()
    expect(answer.children).toHaveLength(0)
    expect(Array.from(answer.childNodes).every((node) => node.nodeType === Node.TEXT_NODE)).toBe(
      true,
    )
    expect(fake.callsTo(ROUTES.run).map((call) => call.body)).toEqual([{ prompt: 'be evil' }])
  })

  it('control: the same string rendered as HTML does create the elements the check looks for', () => {
    const { container } = render(<div dangerouslySetInnerHTML={{ __html: hostile }} />)
    expect(container.querySelector('img')).not.toBeNull()
    expect(container.querySelector('b')).not.toBeNull()
  })

  it('passes the model prop and shows an error line as an alert', async () => {
    const { fake } = renderComponent(
      (fake) =>
        fake
          .on(ROUTES.session, sessionIn())
          .on(
            ROUTES.run,
            ndjson(['{"type":"error","code":"upstream_error","message":"The model failed."}\n']),
          ),
      { model: 'gpt-5' },
    )
    fireEvent.change(await screen.findByLabelText('Prompt'), { target: { value: 'x' } })
    fireEvent.click(screen.getByRole('button', { name: 'Send' }))
    expect((await screen.findByTestId('codex-auth-run-error')).textContent).toBe(
      'The model failed.',
    )
    expect(fake.callsTo(ROUTES.run).map((call) => call.body)).toEqual([
      { prompt: 'x', model: 'gpt-5' },
    ])
  })

  it('never shows a field the broker should not have sent', async () => {
    const { container } = renderComponent((fake) => fake.on(ROUTES.session, sessionIn()))
    await screen.findByTestId('codex-auth-account')
    expect(container.innerHTML).not.toContain(CANARY)
  })
})

describe('render prop', () => {
  it('renders only what the child returns, with the hook result', async () => {
    const fake = createFakeFetch()
    fakes.push(fake)
    fake.on(ROUTES.session, sessionIn())
    const seen: string[] = []
    const { container } = render(
      <CodexAuth fetch={fake.fetch} storage={null}>
        {(auth) => {
          seen.push(auth.state.status)
          return (
            <span data-testid="custom">
              {auth.state.status === 'logged_in' ? (auth.state.account?.email ?? '') : 'wait'}
            </span>
          )
        }}
      </CodexAuth>,
    )
    await waitFor(() => {
      expect(screen.getByTestId('custom').textContent).toBe(ACCOUNT.email)
    })
    expect(seen[0]).toBe('checking')
    expect(seen.at(-1)).toBe('logged_in')
    expect(container.querySelector('[data-testid="codex-auth"]')).toBeNull()
    expect(container.querySelectorAll('button')).toHaveLength(0)
  })
})
