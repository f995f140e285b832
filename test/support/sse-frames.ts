/**
 * Test fixture: strict reading of a Responses API event stream. The parser accepts only the exact framing of
 * PROTOCOL.md §7 — blocks of `event: <type>\ndata: <one JSON line>\n\n`, nothing between them — so a test that
 * parses a stream has also checked its framing. A reader that keeps what arrived before a cut connection lets
 * fault tests inspect a stream that never ended.
 */

/** One parsed event. */
export interface SseEvent {
  event: string
  data: { type: string; sequence_number: number } & Record<string, unknown>
}

const FRAME = /event: ([^\n]+)\ndata: ([^\n]+)\n\n/y

/** Parses `text` as whole frames; throws on any byte that is not part of one. */
export function parseSseFrames(text: string): SseEvent[] {
  const events: SseEvent[] = []
  let at = 0
  while (at < text.length) {
    FRAME.lastIndex = at
    const match = FRAME.exec(text)
    if (!match) {
      throw new Error(`bad SSE framing at ${at}: ${JSON.stringify(text.slice(at, at + 120))}`)
    }
    const [, event = '', json = ''] = match
    events.push({ event, data: JSON.parse(json) as SseEvent['data'] })
    at = FRAME.lastIndex
  }
  return events
}

/** Reads a body to its end or until the connection breaks; answers the text and whether it broke. */
export async function readUntilClosed(
  response: Response,
): Promise<{ text: string; broken: boolean }> {
  const body = response.body
  if (!body) return { text: '', broken: false }
  const reader = (body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
    return { text: text + decoder.decode(), broken: false }
  } catch {
    return { text, broken: true }
  }
}

/** The concatenated `delta` of every event of `type`. */
export function joinDeltas(events: readonly SseEvent[], type: string): string {
  return events
    .filter((entry) => entry.event === type)
    .map((entry) => entry.data.delta as string)
    .join('')
}

/** The event of `type` (the first one), failing loudly when absent. */
export function eventOf(events: readonly SseEvent[], type: string): SseEvent['data'] {
  const found = events.find((entry) => entry.event === type)
  if (!found)
    throw new Error(`no ${type} event in ${events.map((entry) => entry.event).join(', ')}`)
  return found.data
}
