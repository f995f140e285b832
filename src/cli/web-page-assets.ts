/**
 * The page `codex-broker web` serves at `/`: a static HTML shell whose only dynamic parts — the API mount point and
 * the origins the sign-in popup may open — are written HTML-escaped into `data-` attributes, the stylesheet, and
 * the browser bundle built from src/web-page (React and the component, `dist/web-page/app.js`), found by walking up
 * from this module to the package root. The headers lock the page down: a CSP that allows only this origin's
 * script, style and fetches and forbids framing, and `Cross-Origin-Opener-Policy: same-origin-allow-popups`, so
 * the sign-in popup opens but can never script this page.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BrokerError, escapeHtml } from '../lib/index.js'

/** The headers of the page and its assets. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin-allow-popups',
  'cross-origin-resource-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
}

/** The stylesheet: plain, readable, no framework. */
export const PAGE_CSS = `
body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 3rem auto; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.4rem; }
button { font: inherit; padding: 0.4rem 0.9rem; border-radius: 6px; border: 1px solid #888; background: #fff; cursor: pointer; }
button:hover { background: #f2f2f2; }
textarea { font: inherit; width: 100%; min-height: 5rem; box-sizing: border-box; }
pre, output { white-space: pre-wrap; word-break: break-word; }
[class^='codex-auth-'] { margin: 0.6rem 0; }
.note { color: #666; font-size: 0.9rem; }
`

/**
 * The HTML of the page.
 * @example
 * res.end(pageHtml({ apiBase: '/api/codex', loginOrigins: ['https://auth.openai.com'] }))
 */
export function pageHtml(options: {
  readonly apiBase: string
  readonly loginOrigins: readonly string[]
}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>codex-broker</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<h1>codex-broker</h1>
<p class="note">Sign in with ChatGPT, then ask something. Your tokens stay on the server; this page only holds a session cookie.</p>
<div id="app" data-base-url="${escapeHtml(options.apiBase)}" data-login-origins="${escapeHtml(options.loginOrigins.join(' '))}"></div>
<script type="module" src="/app.js"></script>
</body>
</html>
`
}

/**
 * The built page script, read once.
 * @throws {BrokerError} `ERR_INTERNAL` when the package was not built (`npm run build`).
 * @example
 * const script = pageScript()
 */
export function pageScript(): string {
  cachedScript ??= readFileSync(pageScriptPath(), 'utf8')
  return cachedScript
}

let cachedScript: string | undefined

function pageScriptPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(dir, 'dist', 'web-page', 'app.js')
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  throw new BrokerError('ERR_INTERNAL', 'The web page bundle (dist/web-page/app.js) is missing.', {
    hint: 'Run npm run build.',
  })
}
