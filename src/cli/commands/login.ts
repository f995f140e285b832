/**
 * `codex-broker login [--device] [--manual] [--label NAME] [--no-open] [--json] [--with-api-key-exchange]`:
 * signs an account in and stores it in the home folder. The browser sign-in is the default; `--device` is for
 * headless machines; `--manual` is the paste fallback. "Signed in" is printed only after the credentials are
 * on disk, and no token is ever printed.
 */
import { createInterface } from 'node:readline'
import { z } from 'zod'
import { BrokerError, type Secret } from '../../lib/index.js'
import {
  DEVICE_CODE_PHISHING_WARNING,
  loginManually,
  loginWithBrowser,
  loginWithDeviceCode,
  parseIdTokenClaims,
  type IdTokenClaims,
  type TokenSet,
} from '../../oauth/index.js'
import { saveSignIn, type CredentialStore, type StoredAccount } from '../../store/index.js'
import { describe } from '../account-ref.js'
import { resolveEnvironment } from '../environment.js'
import { parseOptions, portOption } from '../options.js'
import { CliOutput } from '../output.js'
import { startProgress, type StopProgress } from '../progress.js'
import { openServices } from '../services.js'

const loginFlags = z.object({
  device: z.boolean().optional(),
  manual: z.boolean().optional(),
  label: z.string().trim().min(1).max(100).optional(),
  open: z.boolean().optional(),
  withApiKeyExchange: z.boolean().optional(),
  callbackPort: z.array(portOption.refine((port) => port > 0, 'must be a real port')).optional(),
})

/** Runs `codex-broker login`. */
export async function runLogin(flags: Record<string, unknown>): Promise<void> {
  const out = new CliOutput(flags.json === true)
  const abort = new AbortController()
  const cancel = (): void => {
    abort.abort()
  }
  process.once('SIGINT', cancel)
  let stopProgress: StopProgress = () => undefined
  try {
    const options = parseOptions(loginFlags, flags)
    if (options.device === true && options.manual === true) {
      throw usage('--device and --manual are two different ways in; pick one.')
    }
    const env = resolveEnvironment(flags)
    const { store, issuer } = await openServices(env)
    const saved: { account?: StoredAccount } = {}
    const persist = async (tokens: TokenSet, _claims: IdTokenClaims): Promise<void> => {
      saved.account = await saveSignIn(store, tokens, {
        label: options.label ?? null,
        now: Date.now(),
      })
    }
    const ports = options.callbackPort
    const announceUrl = async (url: string): Promise<void> => {
      out.event('authorize_url', { url })
      if (options.manual === true || options.open === false || !out.interactive) {
        out.say(`Open this address in a browser to sign in:\n\n  ${url}\n`)
        return
      }
      out.note('Opening your browser to sign in. If it does not open, use this address:')
      out.note(`  ${url}`)
      const { default: openBrowser } = await import('open')
      await openBrowser(url).catch(() => undefined)
      stopProgress = startProgress(process.stderr, 'Waiting for the browser sign-in')
    }
    let apiKey: Secret | null = null
    if (options.device === true) {
      const tokens = await loginWithDeviceCode({
        config: issuer,
        signal: abort.signal,
        onCode: ({ verificationUrl, userCode, expiresAt }) => {
          out.event('device_code', {
            verificationUrl,
            userCode,
            expiresAt: new Date(expiresAt).toISOString(),
          })
          out.say(
            [
              `1. Open ${verificationUrl}`,
              `2. Enter the code ${userCode}  (it expires in 15 minutes)`,
              '',
              DEVICE_CODE_PHISHING_WARNING,
              '',
            ].join('\n'),
          )
          if (out.interactive)
            stopProgress = startProgress(process.stderr, 'Waiting for you to approve', expiresAt)
          else out.say('Waiting for you to approve…')
        },
      })
      stopProgress()
      await persist(tokens, parseIdTokenClaims(tokens.idToken))
    } else if (options.manual === true) {
      const lines = createInterface({ input: process.stdin })
      const iterator = lines[Symbol.asyncIterator]()
      try {
        const result = await loginManually({
          config: issuer,
          signal: abort.signal,
          onAuthorizeUrl: async (url) => {
            await announceUrl(url)
            out.say('After signing in, the browser ends on an address that does not load.')
            out.say('Copy that whole address from the address bar and paste it here:')
          },
          readLine: async () => {
            const next = await iterator.next()
            return next.done === true ? '' : next.value
          },
          onInvalidPaste: (error) => {
            out.note(`${error.message} Try again.`)
          },
          persist,
          withApiKeyExchange: options.withApiKeyExchange === true,
          ...(ports?.[0] === undefined ? {} : { port: ports[0] }),
        })
        apiKey = result.apiKey
      } finally {
        lines.close()
      }
    } else {
      const result = await loginWithBrowser({
        config: issuer,
        signal: abort.signal,
        onAuthorizeUrl: announceUrl,
        persist,
        withApiKeyExchange: options.withApiKeyExchange === true,
        ...(ports === undefined ? {} : { ports }),
      })
      stopProgress()
      apiKey = result.apiKey
      if (result.apiKeyError) out.note(`API-key exchange failed: ${result.apiKeyError.message}`)
    }
    const account = saved.account
    if (!account)
      throw new BrokerError('ERR_INTERNAL', 'The sign-in ended without a stored account.')
    if (apiKey) await saveApiKey(store, account, apiKey)
    out.event('logged_in', {
      account: { id: account.id, email: account.email, plan: account.plan, label: account.label },
    })
    out.say(`Signed in as ${describe(account)}, plan ${account.plan ?? 'unknown'}.`)
  } catch (error) {
    stopProgress()
    out.fail(error)
  } finally {
    process.off('SIGINT', cancel)
  }
}

/** Keeps the API key of `--with-api-key-exchange` as an account of its own, next to the ChatGPT one. */
async function saveApiKey(
  store: CredentialStore,
  account: StoredAccount,
  apiKey: Secret,
): Promise<void> {
  const now = Date.now()
  const id = `apikey-${account.id}`
  const existing = await store.get(id)
  await store.put({
    id,
    label: existing?.label ?? `${account.label ?? account.email ?? account.id} (API key)`,
    email: account.email,
    plan: null,
    auth: { kind: 'apiKey', apiKey },
    status: 'active',
    statusReason: null,
    addedAt: existing?.addedAt ?? now,
    lastUsedAt: existing?.lastUsedAt ?? null,
  })
}

function usage(message: string): BrokerError {
  return new BrokerError('ERR_INVALID_CONFIG', message, { hint: 'Run codex-broker login --help.' })
}
