/**
 * The only thing the browser client keeps: `{"loggedIn": boolean, "savedAt": number}` under the key
 * `codex-broker:auth`, used for nothing but an optimistic hint while the session is being checked. No token,
 * session id, account or e-mail is ever written (SECURITY.md C4.10). Storage that is missing, full or throwing (a
 * sandboxed frame, a private window) is tolerated: the hint is then simply absent.
 */

/** The storage key. */
export const AUTH_HINT_KEY = 'codex-broker:auth'

/**
 * The part of `Storage` the hint uses; `window.localStorage` is one.
 * @example
 * const memory = new Map<string, string>()
 * const storage: HintStorage = { getItem: (k) => memory.get(k) ?? null, setItem: (k, v) => memory.set(k, v) }
 */
export interface HintStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
}

/**
 * `window.localStorage`, or `null` where it does not exist or throws on access.
 * @example
 * const storage = defaultHintStorage()
 */
export function defaultHintStorage(): HintStorage | null {
  try {
    return 'localStorage' in globalThis ? globalThis.localStorage : null
  } catch {
    return null
  }
}

/**
 * The saved `loggedIn`, or `null` if there is none or it is unreadable.
 * @example
 * readAuthHint(localStorage) // true, false or null
 */
export function readAuthHint(storage: HintStorage | null): boolean | null {
  if (storage === null) return null
  try {
    const raw = storage.getItem(AUTH_HINT_KEY)
    if (raw === null) return null
    const value: unknown = JSON.parse(raw)
    if (typeof value !== 'object' || value === null || !('loggedIn' in value)) return null
    return typeof value.loggedIn === 'boolean' ? value.loggedIn : null
  } catch {
    return null
  }
}

/**
 * Saves `{loggedIn, savedAt}` (and nothing else); ignores a storage that throws.
 * @example
 * writeAuthHint(localStorage, true, Date.now())
 */
export function writeAuthHint(
  storage: HintStorage | null,
  loggedIn: boolean,
  savedAt: number,
): void {
  if (storage === null) return
  try {
    storage.setItem(AUTH_HINT_KEY, JSON.stringify({ loggedIn, savedAt }))
  } catch {
    // Full or forbidden storage: the hint is only a hint.
  }
}
