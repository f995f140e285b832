/**
 * `--dump-dir`: one pair of JSON files per proxied exchange, for debugging what a client sent and what it got
 * back, `<time>-<seq>-request.json` and `<time>-<seq>-response.json`. The directory is private (0700) and every
 * file 0600. Nothing secret is written: credential headers are dropped to `[REDACTED]` by name, bodies go
 * through the structural and text redaction every log line gets (SECURITY.md C2.7), and the proxy token is
 * redacted as a known secret wherever it appears. Streamed answers are captured up to a cap and marked
 * truncated beyond it. Dumping never delays or fails a request: files are written after the fact and a failed
 * write is logged, not raised.
 */
import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http'
import { join } from 'node:path'
import {
  ensurePrivateDir,
  type Logger,
  REDACTED,
  redactText,
  redactValue,
  type Secret,
  writeSecretFile,
} from '../lib/index.js'

/** Bytes of an answer kept in its dump; the rest is counted, not stored. */
export const DUMP_BODY_LIMIT = 1024 * 1024
/** Deep enough for Responses inputs (messages → content parts → annotations). */
const DUMP_DEPTH = 32
/** Headers that are dropped wholesale whatever their value looks like. */
const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'x-proxy-token',
  'cookie',
  'set-cookie',
])

/** Writes the dumps of one proxy. */
export interface ExchangeDumper {
  /** Starts the dump of one exchange whose request body has been read; the answer is captured from `res`. */
  record(req: IncomingMessage, body: Buffer, res: ServerResponse): void
  /** Resolves once every dump started so far is on disk (or has failed and been logged). */
  settled(): Promise<void>
}

/**
 * Opens (creating, 0700) the dump directory.
 * @throws {BrokerError} `ERR_UNSAFE_HOME` when the directory or an ancestor is unsafe (see `ensurePrivateDir`).
 * @example
 * const dumper = await createExchangeDumper('/tmp/dumps', { token, logger })
 */
export async function createExchangeDumper(
  directory: string,
  options: { readonly token: Secret; readonly logger: Logger },
): Promise<ExchangeDumper> {
  const { path } = await ensurePrivateDir(directory)
  const knownSecrets = [options.token]
  let sequence = 0
  const pending = new Set<Promise<void>>()
  const write = (name: string, value: unknown): void => {
    const text = `${JSON.stringify(value, null, 2)}\n`
    const writing = writeSecretFile(join(path, name), text)
      .catch((error: unknown) => {
        options.logger.warn({ err: error }, `proxy: could not write the dump ${name}`)
      })
      .finally(() => pending.delete(writing))
    pending.add(writing)
  }
  return {
    async settled() {
      while (pending.size > 0) await Promise.all(pending)
    },
    record(req, body, res) {
      sequence += 1
      const base = `${new Date().toISOString().replace(/[:.]/g, '-')}-${String(sequence).padStart(6, '0')}`
      write(`${base}-request.json`, {
        method: req.method,
        path: redactText(req.url ?? '', { knownSecrets }),
        headers: redactHeaders(req.headers, knownSecrets),
        body: redactBody(body.toString('utf8'), knownSecrets),
      })
      const answer = captureAnswer(res)
      res.once('close', () => {
        const { text, bytes } = answer()
        write(`${base}-response.json`, {
          status: res.statusCode,
          completed: res.writableFinished,
          headers: redactHeaders(res.getHeaders(), knownSecrets),
          bytes,
          truncated: bytes > DUMP_BODY_LIMIT,
          body: redactBody(text, knownSecrets),
        })
      })
    },
  }
}

/** Copies what is written to `res` (up to the cap) without changing what goes out. */
function captureAnswer(res: ServerResponse): () => { text: string; bytes: number } {
  const chunks: Buffer[] = []
  let kept = 0
  let bytes = 0
  const keep = (chunk: unknown, encoding: unknown): void => {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return
    const buffer =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk)
    bytes += buffer.byteLength
    if (kept >= DUMP_BODY_LIMIT) return
    const part = buffer.subarray(0, DUMP_BODY_LIMIT - kept)
    chunks.push(part)
    kept += part.byteLength
  }
  const write = res.write.bind(res) as (...args: unknown[]) => boolean
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse
  // Wrapping this one response's methods is the only way to see its bytes; both still do exactly what they did.
  res.write = ((...args: unknown[]) => {
    keep(args[0], args[1])
    return write(...args)
  }) as ServerResponse['write']
  res.end = ((...args: unknown[]) => {
    if (typeof args[0] !== 'function') keep(args[0], args[1])
    return end(...args)
  }) as ServerResponse['end']
  return () => ({ text: Buffer.concat(chunks).toString('utf8'), bytes })
}

function redactHeaders(
  headers: IncomingHttpHeaders | OutgoingHttpHeaders,
  knownSecrets: readonly Secret[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(headers)) {
    out[name] = SECRET_HEADERS.has(name.toLowerCase())
      ? REDACTED
      : redactValue(value, { knownSecrets })
  }
  return out
}

/** A JSON body as redacted JSON; anything else (an SSE stream, bad JSON) as redacted text. */
function redactBody(text: string, knownSecrets: readonly Secret[]): unknown {
  try {
    return redactValue(JSON.parse(text) as unknown, { knownSecrets, maxDepth: DUMP_DEPTH })
  } catch {
    return redactText(text, { knownSecrets })
  }
}
