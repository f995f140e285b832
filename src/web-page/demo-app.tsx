/**
 * The page `codex-broker web` (and the demo) serves at `/`: the `<CodexAuth>` component's default UI mounted on
 * `#app`, nothing else. Its settings come from the `data-` attributes the server wrote on that element — where the
 * handler is mounted and which origins the sign-in popup may be sent to (the real issuer, or the demo's
 * simulator) — so the bundle itself is the same for every server and holds no configuration.
 */
import { createRoot } from 'react-dom/client'
import { CodexAuth } from '../react/index.js'

const root = document.getElementById('app')
if (root !== null) {
  const baseUrl = root.dataset.baseUrl ?? '/api/codex'
  const loginOrigins = (root.dataset.loginOrigins ?? 'https://auth.openai.com')
    .split(' ')
    .filter((origin) => origin !== '')
  createRoot(root).render(<CodexAuth baseUrl={baseUrl} loginOrigins={loginOrigins} />)
}
