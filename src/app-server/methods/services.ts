/**
 * What the app-server's methods work with: the credential store and token manager of the sign-in, the issuer to
 * sign in at, where `responses/create` goes, and the runner of `agent/run`.
 */
import type { AccountPool } from '../../accounts/index.js'
import type { Clock } from '../../lib/index.js'
import type { IssuerConfig } from '../../oauth/index.js'
import type { ProxyUpstream } from '../../proxy/index.js'
import type { Runner } from '../../runners/index.js'
import type { CredentialStore } from '../../store/index.js'
import type { TokenManager } from '../../tokens/index.js'
import type { ClientIdentity } from '../../upstream/index.js'

/** Services of {@link createAppServerMethods}. */
export interface AppServerServices {
  readonly store: CredentialStore
  readonly tokens: TokenManager
  readonly issuer: IssuerConfig
  /** The ChatGPT backend base (e.g. `https://chatgpt.com/backend-api`), for `account/rateLimits/read`. */
  readonly backendBase: string
  /** `originator` and version sent to the backend. */
  readonly identity: ClientIdentity
  /** Where `responses/create` goes; without it the method answers that nothing is configured. */
  readonly upstream?: ProxyUpstream
  /**
   * The runner of `agent/run` (e.g. a `CodexCliRunner` over `store`); without it the method answers that no agent
   * runner is configured. `responses/create` never uses it.
   */
  readonly agentRunner?: Runner
  /**
   * Directories an `agent/run` may name as its `cwd` (absolute; the directory or one inside it). Default none:
   * a `cwd` is refused and each run gets a fresh empty directory. A client choosing the directory chooses what
   * the agent, running as this server's user, can read.
   */
  readonly agentWorkDirs?: readonly string[]
  /** The pool behind `upstream`, when it is one: `account/list` shows its view and sign-ins join it. */
  readonly pool?: AccountPool
  /** Browser sign-in: the registered loopback callback ports, tried in order (default 1455, 1457). */
  readonly callbackPorts?: readonly number[]
  /** Give up on a sign-in after this long (default 10 minutes). */
  readonly loginTimeoutMs?: number
  readonly clock?: Clock
}
