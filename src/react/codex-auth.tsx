/**
 * `<CodexAuth>`: the component form of `useCodexAuth`. With a render-prop child it is headless and renders only
 * what the child returns for the current state; without one it renders the small default UI of
 * `CodexAuthView`.
 */
import type { ReactNode } from 'react'
import { CodexAuthView } from './codex-auth-view.js'
import type { CodexAuthOptions, UseCodexAuthResult } from './types.js'
import { useCodexAuth } from './use-codex-auth.js'

/** Props of {@link CodexAuth}: the hook's options, an optional render prop and the model of the default UI. */
export interface CodexAuthProps extends CodexAuthOptions {
  /** Renders the UI for the current state; the default UI when absent. */
  readonly children?: (auth: UseCodexAuthResult) => ReactNode
  /** The model the default UI's prompt asks for; the broker's default when absent. */
  readonly model?: string
}

/**
 * Sign in with ChatGPT through the broker, headless or with the default UI.
 * @example
 * <CodexAuth baseUrl="/api/codex" />
 * @example
 * <CodexAuth>
 *   {(auth) =>
 *     auth.state.status === 'logged_in' ? <Chat run={auth.run} /> : <button onClick={auth.signIn}>Sign in</button>
 *   }
 * </CodexAuth>
 */
export function CodexAuth({ children, model, ...options }: CodexAuthProps): ReactNode {
  const auth = useCodexAuth(options)
  if (children !== undefined) return children(auth)
  return <CodexAuthView auth={auth} {...(model === undefined ? {} : { model })} />
}
