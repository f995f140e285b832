/**
 * The answers of injected faults that replace a route's normal answer: a server error, an unauthorized bearer,
 * a Cloudflare challenge page (a 403 in HTML, as ChatGPT's edge sends it), and a redirect that a careful client
 * must not follow while carrying a token.
 */
import type { ServerResponse } from 'node:http'
import { sendHtml, sendJson } from './http.js'
import type { SimFaultKind } from './types.js'

const CLOUDFLARE_CHALLENGE_PAGE = `<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>
<body><div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">chatgpt.com</h1>
<h2 class="h2" id="challenge-running">Checking if the site connection is secure</h2>
<noscript><div id="challenge-error-title">Enable JavaScript and cookies to continue</div></noscript>
<form id="challenge-form" action="/?__cf_chl_f_tk=sim" method="POST"></form>
</div></div></body></html>`

/**
 * Answers `kind` in place of the route; returns false for the faults the route applies itself (`cut`, `slow`).
 */
export function answerWithFault(
  res: ServerResponse,
  kind: SimFaultKind,
  redirectLocation: string,
): boolean {
  switch (kind) {
    case '500':
      sendJson(res, 500, { error: { code: 'server_error', message: 'Injected server error' } })
      return true
    case '401':
      sendJson(res, 401, {
        error: { code: 'token_expired', message: 'Provided authentication token is expired.' },
      })
      return true
    case 'cloudflare':
      sendHtml(res, 403, CLOUDFLARE_CHALLENGE_PAGE, {
        'cf-mitigated': 'challenge',
        server: 'cloudflare',
      })
      return true
    case 'redirect':
      res.writeHead(302, { location: redirectLocation, 'content-length': 0 })
      res.end()
      return true
    case 'cut':
    case 'slow':
      return false
  }
}
