/**
 * The real services' base URLs, the defaults of every surface that talks to them (the CLI's global flags, the web
 * handler's upstream option). Tests and the demo point them at the simulator instead.
 */

/** The ChatGPT backend (PROTOCOL.md §7). */
export const DEFAULT_BACKEND_URL = 'https://chatgpt.com/backend-api'

/** The OpenAI API (PROTOCOL.md §8). */
export const DEFAULT_API_URL = 'https://api.openai.com/v1'
