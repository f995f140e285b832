/**
 * The `config.toml` of a run's temporary `CODEX_HOME`: it points the official CLI at the broker's configured
 * Codex backend, so a run against the simulator never touches chatgpt.com and a production run goes exactly
 * where the broker's own requests go. The built-in `openai` provider cannot be redirected this way (with
 * `openai_base_url` the CLI 0.169.0 first runs a "workspace routing discovery" the backend does not answer), so
 * the config selects a provider of its own with the same wire behaviour:
 *
 * ```toml
 * model_provider = "codex-broker"
 * chatgpt_base_url = "<backend>"          # the CLI's other ChatGPT requests (models, connectors)
 * [model_providers.codex-broker]
 * name = "codex-broker"
 * base_url = "<backend>/codex"            # the CLI POSTs {base_url}/responses (PROTOCOL.md §7)
 * wire_api = "responses"
 * requires_openai_auth = true             # use the ChatGPT tokens of auth.json (bearer + chatgpt-account-id)
 * supports_websockets = false             # plain HTTPS + SSE, as PROTOCOL.md §9
 * ```
 *
 * Keys checked against the CLI's source (`codex-rs/core/src/model_provider_info.rs`: `base_url`, `wire_api`,
 * `requires_openai_auth`; `codex-rs/core/src/config`: `chatgpt_base_url`) and against `@openai/codex` 0.169.0,
 * which sends exactly one `POST {backend}/codex/responses` with the lent token. Values are TOML basic strings
 * (JSON string escaping is valid TOML for them); the URL is checked first (`https:`, or `http:` on loopback).
 */
import { assertSafeEndpoint } from '../oauth/index.js'

/** The provider id the config defines. */
export const CODEX_PROVIDER_ID = 'codex-broker'

function tomlString(value: string): string {
  return JSON.stringify(value)
}

/**
 * The config text for a backend base URL such as `https://chatgpt.com/backend-api`.
 *
 * @throws {BrokerError} `ERR_INVALID_CONFIG` for a URL the broker would not send a token to.
 * @example
 * await writeFile(join(home, 'config.toml'), codexConfigToml('http://127.0.0.1:8787/backend-api'))
 */
export function codexConfigToml(backendBase: string): string {
  const base = assertSafeEndpoint(backendBase, 'Codex backend').href.replace(/\/+$/, '')
  return [
    '# Written by codex-broker for one run of the Codex CLI; deleted after it.',
    `model_provider = ${tomlString(CODEX_PROVIDER_ID)}`,
    `chatgpt_base_url = ${tomlString(base)}`,
    '',
    `[model_providers.${CODEX_PROVIDER_ID}]`,
    `name = ${tomlString(CODEX_PROVIDER_ID)}`,
    `base_url = ${tomlString(`${base}/codex`)}`,
    'wire_api = "responses"',
    'requires_openai_auth = true',
    'supports_websockets = false',
    '',
  ].join('\n')
}
