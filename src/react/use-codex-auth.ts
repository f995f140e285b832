/**
 * `useCodexAuth(options)`: the React hook over the sign-in state machine. One machine per component instance,
 * started on mount (which checks the session with `POST /session`) and stopped on unmount (which aborts every
 * request in flight and stops polling). The returned functions are stable across renders.
 */
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react'
import { CodexAuthMachine } from './auth-machine.js'
import type { CodexAuthOptions, UseCodexAuthResult } from './types.js'

/**
 * Signs the user in with ChatGPT through the broker's web handler and runs prompts with that sign-in. The tokens
 * stay on the server; the browser only holds the broker's session cookie.
 * @example
 * function SignIn() {
 *   const auth = useCodexAuth({ baseUrl: '/api/codex' })
 *   if (auth.state.status === 'pending') return <p>Enter {auth.state.userCode}</p>
 *   if (auth.state.status === 'logged_in') return <button onClick={() => void auth.signOut()}>Sign out</button>
 *   return <button onClick={auth.signIn} disabled={auth.busy}>Sign in with ChatGPT</button>
 * }
 */
export function useCodexAuth(options: CodexAuthOptions = {}): UseCodexAuthResult {
  const [machine] = useState(() => new CodexAuthMachine(options))
  machine.setOptions(options)
  useEffect(() => {
    machine.start()
    return machine.stop
  }, [machine])
  const snapshot = useSyncExternalStore(machine.subscribe, machine.getSnapshot, machine.getSnapshot)
  return useMemo(
    () => ({
      state: snapshot.state,
      busy: snapshot.busy,
      hint: snapshot.hint,
      signIn: machine.signIn,
      signOut: machine.signOut,
      run: machine.run,
      refresh: machine.refresh,
    }),
    [machine, snapshot],
  )
}
