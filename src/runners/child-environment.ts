/**
 * The complete environment of a Codex CLI run. Nothing is inherited from the broker's own environment — no API
 * key, no cookie secret, no `OPENAI_*`, `CODEX_*` or proxy variable can reach the agent or its tools — only:
 *
 * - `PATH`: where the CLI finds `node` (its npm wrapper) and the agent's tools find programs;
 * - `HOME` and `CODEX_HOME`: the run's temporary home (auth.json, config.toml, the session log);
 * - `LANG`: a UTF-8 locale;
 * - `CODEX_REFRESH_TOKEN_URL_OVERRIDE` (`{issuer}/oauth/token`), only when the broker is configured with an
 *   issuer other than `https://auth.openai.com` (the simulator): the CLI refreshes against its built-in issuer
 *   otherwise, and would send that issuer's refresh token to auth.openai.com. The variable name is the CLI's
 *   (`REFRESH_TOKEN_URL_OVERRIDE_ENV_VAR` in `codex-rs/login/src/auth/manager.rs`).
 */
import { DEFAULT_ISSUER, issuerEndpoint } from '../oauth/index.js'

/** The variable the official CLI reads its refresh endpoint from. */
export const REFRESH_URL_OVERRIDE_VARIABLE = 'CODEX_REFRESH_TOKEN_URL_OVERRIDE'

/** What {@link codexChildEnvironment} needs. */
export interface CodexChildEnvironmentOptions {
  /** The child's `PATH`. */
  readonly searchPath: string
  /** The run's temporary home (both `HOME` and `CODEX_HOME`). */
  readonly home: string
  /** The child's `LANG`. */
  readonly lang: string
  /** The issuer base URL the account's tokens come from. */
  readonly issuer: string
}

/**
 * The child's whole environment.
 *
 * @example
 * spawn(codex, args, { env: codexChildEnvironment({ searchPath, home, lang: 'C.UTF-8', issuer }) })
 */
export function codexChildEnvironment(
  options: CodexChildEnvironmentOptions,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: options.searchPath,
    HOME: options.home,
    CODEX_HOME: options.home,
    LANG: options.lang,
  }
  const tokenUrl = issuerEndpoint(options.issuer, '/oauth/token')
  if (tokenUrl.href !== issuerEndpoint(DEFAULT_ISSUER, '/oauth/token').href) {
    env[REFRESH_URL_OVERRIDE_VARIABLE] = tokenUrl.href
  }
  return env
}
