/**
 * A fake `window.open` for the browser-client tests. It returns a fake sign-in window (or `null`, to play a popup
 * blocker) that records every navigation (`location.href = …` and `location = …`) and every `close()`, has a
 * real (detached) document so the holding screen can be read back, and starts with `opener` set to the opening
 * window, as a real popup does.
 */
import { vi } from 'vitest'

export interface FakePopup {
  /** What the code under test receives. */
  readonly window: Window
  /** Every address the window was sent to, in order. */
  readonly hrefs: string[]
  /** The window's document (the holding screen is written here). */
  readonly document: Document
  readonly closeCalls: () => number
  readonly closed: () => boolean
  /** The window's current `opener`. */
  readonly opener: () => unknown
  /** Plays the user closing the window. */
  userCloses(): void
}

export interface FakeWindowOpen {
  /** The calls to `window.open`, with their arguments. */
  readonly calls: (readonly unknown[])[]
  /** The windows handed out, in order. */
  readonly popups: FakePopup[]
  /** The last window handed out. */
  readonly last: () => FakePopup
}

export function createFakePopup(): FakePopup {
  const doc = document.implementation.createHTMLDocument('')
  const hrefs: string[] = []
  let closed = false
  let closeCalls = 0
  const location = {
    get href(): string {
      return hrefs.at(-1) ?? 'about:blank'
    },
    set href(value: unknown) {
      hrefs.push(String(value))
    },
    assign(value: unknown): void {
      hrefs.push(String(value))
    },
    replace(value: unknown): void {
      hrefs.push(String(value))
    },
  }
  const popup = {
    opener: window as unknown,
    document: doc,
    get location(): typeof location {
      return location
    },
    set location(value: unknown) {
      hrefs.push(String(value))
    },
    get closed(): boolean {
      return closed
    },
    close(): void {
      closeCalls += 1
      closed = true
    },
  }
  return {
    window: popup as unknown as Window,
    hrefs,
    document: doc,
    closeCalls: () => closeCalls,
    closed: () => closed,
    opener: () => popup.opener,
    userCloses: () => {
      closed = true
    },
  }
}

/**
 * Replaces `window.open`. With `blocked`, it returns `null` like a popup blocker. `log`, if given, receives
 * `window.open` at each call.
 */
export function installFakeWindowOpen(
  options: { blocked?: boolean; log?: string[] } = {},
): FakeWindowOpen {
  const calls: (readonly unknown[])[] = []
  const popups: FakePopup[] = []
  vi.spyOn(window, 'open').mockImplementation((...args: unknown[]) => {
    calls.push(args)
    options.log?.push('window.open')
    if (options.blocked === true) return null
    const popup = createFakePopup()
    popups.push(popup)
    return popup.window
  })
  return {
    calls,
    popups,
    last: () => {
      const popup = popups.at(-1)
      if (popup === undefined) throw new Error('window.open handed out no window')
      return popup
    },
  }
}
