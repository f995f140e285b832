/**
 * Reading the form POSTs of the issuer's own pages (the sign-in decision and the device-code approval). Only the
 * simulator's pages may submit them: a browser marks a cross-site submission with `Sec-Fetch-Site` and `Origin`,
 * and we refuse it, so another web page cannot approve a sign-in behind the user's back. `Origin: null` is let
 * through because our pages send `Referrer-Policy: no-referrer`, which makes browsers send exactly that.
 */
import { readBody, type SimRequestContext } from '../http.js'
import { errorPage } from './pages.js'
import type { IssuerAnswer } from './respond.js'

/** A parsed form, or the error page to answer instead. */
export type FormRead = { ok: true; form: URLSearchParams } | { ok: false; answer: IssuerAnswer }

/** Reads an `application/x-www-form-urlencoded` body submitted from one of the simulator's own pages. */
export async function readOwnForm(ctx: SimRequestContext): Promise<FormRead> {
  const site = ctx.req.headers['sec-fetch-site']
  const origin = ctx.req.headers.origin
  if (
    (site !== undefined && site !== 'same-origin' && site !== 'none') ||
    (origin !== undefined && origin !== 'null' && origin !== ctx.state.issuer)
  ) {
    return {
      ok: false,
      answer: errorPage(403, 'Request refused', 'This form can only be submitted from this site.'),
    }
  }
  const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/x-www-form-urlencoded') {
    return {
      ok: false,
      answer: errorPage(415, 'Unsupported form', 'Expected a form-encoded body.'),
    }
  }
  return { ok: true, form: new URLSearchParams(await readBody(ctx)) }
}
