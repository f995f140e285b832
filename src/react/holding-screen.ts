/**
 * The holding screen shown in the sign-in window between the click that opens it and the moment the broker hands
 * back the sign-in address. It is a static constant written with DOM text nodes: no markup is parsed and nothing
 * from the server, the user or the URL is ever put in it, so the blank window cannot become an injection target.
 */

/** The fixed text of the holding screen. */
export const HOLDING_SCREEN = Object.freeze({
  title: 'Signing in with ChatGPT',
  heading: 'Opening the ChatGPT sign-in page…',
  body: 'This window moves on to the sign-in page in a moment. Keep it open until you are signed in.',
})

/**
 * Replaces the content of `doc` (the blank sign-in window's document) with {@link HOLDING_SCREEN}.
 * @example
 * const popup = window.open('', 'codex-broker-sign-in', 'popup')
 * if (popup) writeHoldingScreen(popup.document)
 */
export function writeHoldingScreen(doc: Document): void {
  doc.title = HOLDING_SCREEN.title
  const heading = doc.createElement('h1')
  heading.textContent = HOLDING_SCREEN.heading
  heading.style.fontSize = '1.25rem'
  const body = doc.createElement('p')
  body.textContent = HOLDING_SCREEN.body
  doc.body.style.fontFamily = 'system-ui, sans-serif'
  doc.body.style.margin = '2rem'
  doc.body.replaceChildren(heading, body)
}
