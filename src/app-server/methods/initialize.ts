/**
 * `initialize`: the handshake of the official app-server. The client may say who it is
 * (`{clientInfo: {name, version?}}`, accepted leniently, missing or not); the server answers who it is:
 * `{userAgent: "codex-broker/<version>", serverInfo: {name: "codex-broker", version}}`. The only method a
 * connection may call before it.
 */
import { z } from 'zod'
import packageJson from '../../../package.json' with { type: 'json' }
import type { RpcMethod } from '../rpc/rpc-method.js'
import { parseParams } from './parse-params.js'

/** The codex-broker version (package.json; read directly: a surface does not import the CLI). */
const VERSION: string = packageJson.version

/** The result of `initialize`. */
export interface InitializeResult {
  userAgent: string
  serverInfo: { name: 'codex-broker'; version: string }
}

const initializeParams = z
  .object({
    clientInfo: z
      .object({ name: z.string().max(200).optional(), version: z.string().max(200).optional() })
      .loose()
      .nullish(),
  })
  .loose()

/**
 * The `initialize` method.
 * @example
 * methods.set('initialize', createInitializeMethod())
 */
export function createInitializeMethod(): RpcMethod {
  return {
    requiresInitialize: false,
    handle(params): Promise<InitializeResult> {
      parseParams(
        initializeParams,
        params,
        '{"clientInfo": {"name": "my-app", "version": "1.0.0"}}',
      )
      return Promise.resolve({
        userAgent: `codex-broker/${VERSION}`,
        serverInfo: { name: 'codex-broker', version: VERSION },
      })
    },
  }
}
