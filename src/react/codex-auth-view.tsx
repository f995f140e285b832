/**
 * The default UI of `<CodexAuth>`: plain semantic HTML, class names prefixed `codex-auth-`, `data-testid`s and
 * ARIA labels, no CSS framework. Signed out: a "Sign in with ChatGPT" button. Pending: the user code with a Copy
 * button, what to do with it, and (only when the sign-in window could not be opened) a link to the validated
 * sign-in address with `rel="noopener noreferrer"`. Signed in: the account, a prompt with its streamed answer,
 * and Sign out. Everything from the server is rendered as text.
 */
import { useState, type ReactNode } from 'react'
import { CopyCodeButton } from './copy-code-button.js'
import { isAbortError } from './errors.js'
import { PromptForm } from './prompt-form.js'
import type { CodexAccount, UseCodexAuthResult } from './types.js'

/** Props of {@link CodexAuthView}. */
export interface CodexAuthViewProps {
  readonly auth: UseCodexAuthResult
  /** The model the prompt asks for; the broker's default when absent. */
  readonly model?: string
}

function accountLabel(account: CodexAccount | null): string {
  const who = account?.email ?? 'your ChatGPT account'
  return account?.plan == null ? who : `${who} (${account.plan})`
}

/**
 * Renders the default sign-in UI for `auth`.
 * @example
 * const auth = useCodexAuth()
 * return <CodexAuthView auth={auth} />
 */
export function CodexAuthView({ auth, model }: CodexAuthViewProps): ReactNode {
  const { state, busy } = auth
  const [signOutError, setSignOutError] = useState<string | null>(null)
  const signOut = (): void => {
    setSignOutError(null)
    auth.signOut().catch((error: unknown) => {
      if (!isAbortError(error))
        setSignOutError(error instanceof Error ? error.message : 'Sign-out failed.')
    })
  }

  return (
    <section
      className={`codex-auth codex-auth-${state.status}`}
      data-testid="codex-auth"
      data-state={state.status}
      aria-label="ChatGPT sign-in"
      aria-busy={busy || state.status === 'checking'}
    >
      {state.status === 'checking' && (
        <p className="codex-auth-status" data-testid="codex-auth-checking" role="status">
          Checking sign-in…
        </p>
      )}

      {state.status === 'logged_out' && (
        <>
          {state.error !== null && (
            <p className="codex-auth-error" data-testid="codex-auth-error" role="alert">
              {state.error.message}
            </p>
          )}
          <button
            type="button"
            className="codex-auth-sign-in"
            data-testid="codex-auth-sign-in"
            onClick={auth.signIn}
            disabled={busy}
          >
            Sign in with ChatGPT
          </button>
        </>
      )}

      {state.status === 'pending' && (
        <>
          <p className="codex-auth-instructions" data-testid="codex-auth-instructions">
            Enter this code at the ChatGPT sign-in page:
          </p>
          <p className="codex-auth-code-row">
            <code
              className="codex-auth-user-code"
              data-testid="codex-auth-user-code"
              aria-label="Your sign-in code"
            >
              {state.userCode}
            </code>{' '}
            <CopyCodeButton code={state.userCode} />
          </p>
          {state.popupBlocked && (
            <p className="codex-auth-popup-blocked" data-testid="codex-auth-popup-blocked">
              The sign-in window did not open.{' '}
              <a
                className="codex-auth-login-link"
                data-testid="codex-auth-login-link"
                href={state.loginUrl}
                target="_blank"
                rel="noopener noreferrer"
              >
                Open the sign-in page
              </a>
            </p>
          )}
          <p className="codex-auth-status" data-testid="codex-auth-waiting" role="status">
            Waiting for you to finish signing in… Once you have approved the code, close the sign-in
            window.
          </p>
        </>
      )}

      {state.status === 'logged_in' && (
        <>
          <p className="codex-auth-account" data-testid="codex-auth-account">
            Signed in as {accountLabel(state.account)}
          </p>
          <PromptForm run={auth.run} {...(model === undefined ? {} : { model })} />
          {signOutError !== null && (
            <p className="codex-auth-error" data-testid="codex-auth-sign-out-error" role="alert">
              {signOutError}
            </p>
          )}
          <button
            type="button"
            className="codex-auth-sign-out"
            data-testid="codex-auth-sign-out"
            onClick={signOut}
            disabled={busy}
          >
            Sign out
          </button>
        </>
      )}
    </section>
  )
}
