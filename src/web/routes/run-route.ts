/**
 * `POST /run/stream` with `{"prompt", "model"?}`: one streamed answer for a signed-in session, as NDJSON (see
 * ndjson-run-stream.ts). Checked in this order: a signed-in session (401), the body (a non-empty prompt within
 * the size limit, a model from the allowlist: 400/413), the rate limits (429), then the session's run slot — one
 * run per session across every instance (409). The upstream request is opened before the 200 is sent, so a
 * failure to start (the user's quota, an expired sign-in) is a plain JSON error with its status; a sign-in the
 * issuer no longer honours also ends the session's sign-in. The browser going away aborts the upstream at once.
 * With a runner configured (`runner: 'codex-cli'` or a `Runner`), the same checks and the same slot apply, and the
 * session's account runs through the runner instead (runner-run-stream.ts): the 200 goes out at once, a failure
 * to start is the stream's `error` line, and one that means the sign-in is gone also ends the session's sign-in.
 */
import { z } from 'zod'
import { isBrokerError } from '../../lib/index.js'
import { readJsonBody } from '../json-body.js'
import { runEventStream } from '../ndjson-run-stream.js'
import type { Route, RouteContext } from '../route-context.js'
import { runnerEventStream } from '../runner-run-stream.js'
import type { WebAnswer, WebRequest } from '../web-answer.js'
import { WebRefusal } from '../web-error.js'
import { requireLiveSession, tooManyRequests } from './route-guards.js'

const runBody = z.object({ prompt: z.string(), model: z.string().optional() }).strict()

/** Errors that mean the stored sign-in is gone for good. */
const SIGN_IN_LOST = [
  'ERR_NEEDS_LOGIN',
  'ERR_REFRESH_REUSED',
  'ERR_REFRESH_EXPIRED',
  'ERR_REFRESH_REVOKED',
  'ERR_NOT_FOUND',
] as const

/** The same, as the `code` of a runner's `error` event. */
const SIGN_IN_LOST_EVENT_CODES: ReadonlySet<string> = new Set(
  SIGN_IN_LOST.map((code) => code.replace(/^ERR_/, '').toLowerCase()),
)

/** The route. */
export const runRoute: Route = async (request, context) => {
  const { settings, gate } = context
  const { key, session } = await requireLiveSession(request, gate)
  const apiKeyMode = settings.tokens === null
  if (!apiKeyMode && session.account === null) {
    throw new WebRefusal(401, 'not_logged_in', 'Sign in first.')
  }
  const parsed = runBody.safeParse(await readJsonBody(request, settings.maxBodyBytes))
  if (!parsed.success) {
    throw new WebRefusal(400, 'invalid_request', 'Send {"prompt": "…"} and optionally "model".')
  }
  const { prompt } = parsed.data
  if (prompt.trim() === '') throw new WebRefusal(400, 'invalid_request', 'The prompt is empty.')
  if (Buffer.byteLength(prompt, 'utf8') > settings.maxPromptBytes) {
    throw new WebRefusal(
      413,
      'payload_too_large',
      `The prompt is longer than ${settings.maxPromptBytes} bytes; shorten it.`,
    )
  }
  const model = parsed.data.model ?? settings.models[0] ?? ''
  if (!settings.models.includes(model)) {
    throw new WebRefusal(
      400,
      'model_not_allowed',
      `This app offers the models ${settings.models.join(', ')}.`,
    )
  }
  const limited = await settings.rateLimits.consume('run', key)
  if (limited !== null) throw tooManyRequests(limited.retryAfterSeconds)
  const release = await settings.sessions.acquireRunSlot(key, settings.maxRunMs)
  if (release === null) {
    throw new WebRefusal(409, 'run_in_progress', 'A run is already streaming for this session.')
  }
  return startRun(request, context, {
    key,
    credentialId: session.account?.credentialId ?? null,
    input: { prompt, model, instructions: settings.instructions },
    release,
  })
}

async function startRun(
  request: WebRequest,
  { settings, gate }: RouteContext,
  run: {
    readonly key: string
    readonly credentialId: string | null
    readonly input: { prompt: string; model: string; instructions: string }
    readonly release: () => Promise<void>
  },
): Promise<WebAnswer> {
  const controller = new AbortController()
  const timeout = setTimeout(() => {
    controller.abort(new Error('The run took longer than the configured maximum.'))
  }, settings.maxRunMs)
  timeout.unref()
  // A Fetch request's signal says the client left before the answer started; afterwards the answer's body is
  // cancelled, which aborts too (the node adapter relies on that alone).
  const { signal } = request
  const onGone = (): void => {
    controller.abort(signal?.reason)
  }
  signal?.addEventListener('abort', onGone, { once: true })
  const finish = (): void => {
    clearTimeout(timeout)
    signal?.removeEventListener('abort', onGone)
    run.release().catch((error: unknown) => {
      settings.logger.warn({ event: 'web.run.release_failed', err: error }, 'run slot not released')
    })
  }
  const { runner } = settings
  if (runner !== null) {
    if (run.credentialId === null) throw new Error('a runner needs the session credential id')
    const credentialId = run.credentialId
    settings.logger.info(
      { event: 'web.run.started', model: run.input.model, runner: runner.kind },
      'run started',
    )
    const events = runner.run({
      accountId: credentialId,
      prompt: run.input.prompt,
      model: run.input.model,
      signal: controller.signal,
    })
    const body = runnerEventStream(
      events,
      () => {
        controller.abort(new Error('The browser went away.'))
      },
      (terminal) => {
        finish()
        if (terminal?.type !== 'error' || !SIGN_IN_LOST_EVENT_CODES.has(terminal.code)) return
        signOutLost(run.key, credentialId, { settings, gate }).catch((error: unknown) => {
          settings.logger.warn({ event: 'web.run.sign_out_failed', err: error }, 'sign-out failed')
        })
      },
    )
    return ndjsonAnswer(body)
  }
  let answer
  try {
    answer = await settings.runUpstream.open(run.credentialId, run.input, controller.signal)
  } catch (error) {
    finish()
    if (run.credentialId !== null && SIGN_IN_LOST.some((code) => isBrokerError(error, code))) {
      await signOutLost(run.key, run.credentialId, { settings, gate })
      throw new WebRefusal(401, 'not_logged_in', 'The ChatGPT sign-in has ended; sign in again.')
    }
    throw error
  }
  settings.logger.info({ event: 'web.run.started', model: run.input.model }, 'run started')
  const body = runEventStream(
    answer,
    () => {
      controller.abort(new Error('The browser went away.'))
    },
    finish,
  )
  return ndjsonAnswer(body)
}

function ndjsonAnswer(body: ReadableStream<Uint8Array>): WebAnswer {
  return {
    status: 200,
    headers: {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    },
    body,
  }
}

async function signOutLost(
  key: string,
  credentialId: string,
  { settings, gate }: Pick<RouteContext, 'settings' | 'gate'>,
): Promise<void> {
  const session = await settings.sessions.get(key)
  if (session !== null) await gate.save(key, { ...session, account: null })
  await settings.credentials.remove(credentialId)
  settings.tokens?.forget(credentialId)
}
