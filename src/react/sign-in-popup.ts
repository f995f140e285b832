/**
 * The sign-in window. It is opened synchronously inside the user's click (popup blockers allow a window only
 * there), shows the static holding screen, and is cut off from this tab at once (`opener = null`), so the sign-in
 * site can never navigate or script the page that opened it. It is sent to the sign-in address only after that
 * address passed `validateLoginUrl`. The price of the severed opener: once the window shows the sign-in site, the
 * browser no longer lets this page close it (Chromium logs "Unsafe attempt to initiate navigation"), so the person
 * closes it; `closeSignInPopup` still closes it while it is ours (the holding screen, e.g. when the start fails).
 * Every step tolerates a window that is already closed or, when the name was reused, on another origin.
 */
import { writeHoldingScreen } from './holding-screen.js'

/** The window name, so a second click reuses the same window instead of opening another. */
export const POPUP_NAME = 'codex-broker-sign-in'
/** The features string: a small popup window. */
export const POPUP_FEATURES = 'popup,width=500,height=720'

/**
 * Opens the sign-in window with the holding screen and severs its opener; `null` if the browser blocked it.
 * Must be called synchronously from a user gesture.
 * @example
 * button.onclick = () => {
 *   const popup = openSignInPopup()
 * }
 */
export function openSignInPopup(): Window | null {
  let popup: Window | null
  try {
    popup = window.open('', POPUP_NAME, POPUP_FEATURES)
  } catch {
    return null
  }
  if (popup === null) return null
  try {
    writeHoldingScreen(popup.document)
  } catch {
    // A reused window already on another origin: its document is not ours to write.
  }
  try {
    popup.opener = null
  } catch {
    // Same case: a cross-origin window's opener cannot be set from here.
  }
  return popup
}

/**
 * Sends the sign-in window to `url` (which the caller has validated); `false` if the window is gone.
 * @example
 * const url = validateLoginUrl(answer.loginUrl, origins)
 * if (url !== null && !navigateSignInPopup(popup, url)) showFallbackLink(url)
 */
export function navigateSignInPopup(popup: Window, url: string): boolean {
  try {
    if (popup.closed) return false
    popup.location.href = url
    return true
  } catch {
    return false
  }
}

/**
 * Closes the sign-in window if it is still open and still ours (the holding screen); ignores a window that is
 * gone, or on the sign-in site (the browser refuses: the opener was severed on purpose).
 * @example
 * closeSignInPopup(popup)
 */
export function closeSignInPopup(popup: Window | null): void {
  if (popup === null) return
  try {
    if (!popup.closed) popup.close()
  } catch {
    // Nothing more can be done with a window that refuses to close.
  }
}
