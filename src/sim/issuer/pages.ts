/**
 * The HTML shell of the issuer's pages: self-contained (no scripts, fonts, images or other origins, which the
 * Content-Security-Policy of `sendHtml` enforces anyway), and every piece of caller-supplied text goes through
 * `escapeHtml`. Pages never show a token or a code.
 */
import { escapeHtml } from '../../lib/escape-html.js'
import { html, type IssuerAnswer } from './respond.js'

const STYLE = `body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#111}
h1{font-size:1.4rem}ul{list-style:none;padding:0}li{display:flex;justify-content:space-between;
align-items:center;padding:.5rem 0;border-bottom:1px solid #ddd}button{padding:.4rem .9rem;cursor:pointer}
.note{color:#555;font-size:.9rem}.warn{color:#8a4b00}label{display:block;margin:.8rem 0 .3rem}
input,select{font-size:1rem;padding:.3rem;width:100%;box-sizing:border-box}form.inline{display:inline}`

/**
 * A complete page; `body` must already be escaped HTML.
 * @example
 * renderPage('Signed in', `<p>${escapeHtml(email)}</p>`)
 */
export function renderPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)} · codex-broker simulator</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
<p class="note">This is the codex-broker simulator, a local stand-in for auth.openai.com.</p>
</body></html>`
}

/** An error page with a plain-text message. */
export function errorPage(status: number, title: string, message: string): IssuerAnswer {
  return html(status, renderPage(title, `<p>${escapeHtml(message)}</p>`))
}

/** Hidden form fields carrying `fields` through a page unchanged. */
export function hiddenFields(fields: Iterable<readonly [string, string]>): string {
  let out = ''
  for (const [name, value] of fields) {
    out += `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`
  }
  return out
}
