/**
 * `/__sim/*`: the control API over HTTP, for tests in other processes and for people poking at a running
 * simulator. Each route validates its body with the same schema as the in-process `SimControl` method it calls.
 */
import { SimControl, SimControlError } from './control.js'
import { readBody, sendJson, SimHttpError, type SimRequestContext, type SimRoute } from './http.js'

/** The control routes over one `SimControl`. */
export function controlRoutes(control: SimControl): SimRoute[] {
  return [
    post('/__sim/accounts', (body) => control.addAccount(body as never)),
    get('/__sim/accounts', () => control.accounts()),
    post('/__sim/config', (body) => control.configure(body as never)),
    post('/__sim/quota', (body) => {
      control.setQuota(body as never)
      return { ok: true }
    }),
    post('/__sim/faults', (body) => {
      control.injectFault(body as never)
      return { ok: true }
    }),
    post('/__sim/device/approve', (body) => {
      control.approveDevice(body as never)
      return { ok: true }
    }),
    post('/__sim/api-keys', (body) => control.createApiKey(body as never)),
    post('/__sim/revoke', (body) => control.revokeAccount(body as never)),
    get('/__sim/counters', () => control.counters()),
    get('/__sim/requests', (ctx) =>
      control.requests(ctx.url.searchParams.get('route') ?? undefined),
    ),
    get('/__sim/issued', () => control.issued()),
    post('/__sim/reset', () => {
      control.reset()
      return { ok: true }
    }),
  ]
}

function get(path: string, run: (ctx: SimRequestContext) => unknown): SimRoute {
  return {
    method: 'GET',
    path,
    handle(ctx) {
      answer(ctx, () => run(ctx))
    },
  }
}

function post(path: string, run: (body: unknown) => unknown): SimRoute {
  return {
    method: 'POST',
    path,
    async handle(ctx) {
      const text = await readBody(ctx)
      let body: unknown = {}
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text)
        } catch {
          throw new SimHttpError(400, {
            error: { code: 'invalid_json', message: 'Body is not JSON' },
          })
        }
      }
      answer(ctx, () => run(body))
    },
  }
}

function answer(ctx: SimRequestContext, run: () => unknown): void {
  try {
    sendJson(ctx.res, 200, run())
  } catch (error) {
    if (error instanceof SimControlError) {
      sendJson(ctx.res, error.status, {
        error: { code: 'invalid_control', message: error.message },
      })
      return
    }
    throw error
  }
}
