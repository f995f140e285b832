/**
 * Escaping text for HTML element content and quoted attribute values, for the few static pages the broker and
 * the simulator render (callback pages, sign-in pages). Everything shown in them goes through this.
 */

/**
 * Escapes `&`, `<`, `>`, `"` and `'`.
 * @example
 * `<p>${escapeHtml(email)}</p>`
 */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}
