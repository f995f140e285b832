/**
 * What every route gets: the checked settings, the session gate, and the status polls under way in this process
 * (so two overlapping `GET /status` calls of one session poll the issuer, and exchange its code, only once).
 */
import type { HandlerSettings } from './handler-options.js'
import type { SessionGate } from './session-gate.js'
import type { WebAnswer, WebRequest } from './web-answer.js'

/** An answer that several waiting callers can each turn into their own `WebAnswer`. */
export interface SharedAnswer {
  readonly body: unknown
  readonly headers: Readonly<Record<string, string>>
}

/** The shared state of the routes. */
export interface RouteContext {
  readonly settings: HandlerSettings
  readonly gate: SessionGate
  /** Status polls in flight, by session key; each resolves to the answer every waiting caller gets. */
  readonly polls: Map<string, Promise<SharedAnswer>>
}

/** A route: a request in, an answer out (errors thrown become answers in one place). */
export type Route = (request: WebRequest, context: RouteContext) => Promise<WebAnswer>
