import { connect } from 'node:net'
import t, { type Test } from 'tap'
import { build, signUp } from '../helper.js'
import { PATIENCE_MS } from '../ws-client.js'
import { stillHealthy } from './hostile.js'

// What Node's HTTP parser refuses before Fastify sees a request (malformed HTTP, headers too large,
// a request too slow) and a refused CORS preflight answer `{"error","code"}` with the security
// headers, like every other error. Sent over raw sockets: no HTTP client would send these.

const app = await build(t, { env: { HEADERS_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '1' } })
const address = await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = new URL(address)
const user = await signUp(app)

interface RawAnswer { status: number, headers: Record<string, string>, body: string, text: string }

/** Sends `bytes` on a fresh connection and reads until the server closes it. */
async function raw (bytes: string | Buffer): Promise<RawAnswer> {
  const socket = connect(Number(port), '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', chunk => chunks.push(chunk))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no close within ${PATIENCE_MS} ms; got ${String(Buffer.concat(chunks))}`)) }, PATIENCE_MS)
    socket.once('close', () => { clearTimeout(timer); resolve() })
    socket.once('error', () => {})
    socket.write(bytes)
  })
  const text = Buffer.concat(chunks).toString('latin1')
  const [head = '', body = ''] = text.split('\r\n\r\n', 2)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map(line => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
  return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? 0), headers, body, text }
}

/** The status, our JSON shape with a sentence and a code, and helmet's headers. */
function isOurError (t: Test, answer: RawAnswer, status: number, code: string, label: string): void {
  t.equal(answer.status, status, `${label}: ${status}`)
  t.match(answer.headers['content-type'], /^application\/json/, `${label}: JSON`)
  let body: { error?: unknown, code?: unknown } = {}
  try {
    body = JSON.parse(answer.body) as typeof body
  } catch {
    t.fail(`${label}: the body is JSON (${JSON.stringify(answer.body.slice(0, 80))})`)
  }
  t.same(Object.keys(body).sort(), ['code', 'error'], `${label}: {"error","code"} and nothing else`)
  t.type(body.error, 'string', `${label}: an error sentence`)
  t.not(body.error, 'Bad Request', `${label}: a sentence, not just "Bad Request"`)
  t.equal(body.code, code, `${label}: code ${code}`)
  t.equal(Number(answer.headers['content-length']), Buffer.byteLength(answer.body), `${label}: Content-Length matches the body`)
  t.equal(answer.headers['x-content-type-options'], 'nosniff', `${label}: helmet's headers`)
  t.equal(answer.headers['referrer-policy'], 'no-referrer', `${label}: helmet's headers`)
  t.match(answer.headers['x-request-id'], /^[A-Za-z0-9._-]{1,64}$/, `${label}: a request id`)
}

t.test('malformed HTTP is 400 {"error","code"} with the security headers', async t => {
  const cases: Array<[string, string]> = [
    ['a header line without a colon', 'GET /health HTTP/1.1\r\nHost: localhost\r\nNot A Header\r\n\r\n'],
    ['two Content-Lengths (request smuggling)', 'POST /api/v1/users/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}'],
    ['Content-Length and chunked together', 'POST /api/v1/users/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['an invalid method', 'G\x01T /health HTTP/1.1\r\nHost: localhost\r\n\r\n'],
    ['TLS to the plain port', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03']
  ]
  for (const [label, bytes] of cases) isOurError(t, await raw(Buffer.from(bytes, 'latin1')), 400, 'BAD_REQUEST', label)
})

t.test('headers over the limit are 431 {"error","code"}', async t => {
  const answer = await raw(`GET /health HTTP/1.1\r\nHost: localhost\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`)
  isOurError(t, answer, 431, 'HEADERS_TOO_LARGE', '20 KB of headers')
})

t.test('a request that does not arrive in time is 408 {"error","code"}', async t => {
  const answer = await raw('POST /api/v1/users/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"em')
  isOurError(t, answer, 408, 'REQUEST_TIMEOUT', 'a stalled body')
})

t.test('what the parser refuses never holds a credential it was sent', async t => {
  const answer = await raw('GET /ws?token=raw-secret-token HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer raw-secret-bearer\r\nBroken\r\n\r\n')
  t.equal(answer.status, 400)
  t.notMatch(answer.text, /raw-secret/, 'the refused bytes are not echoed')
})

t.test('refused CORS preflights answer {"error","code"}', async t => {
  const prod = await build(t, { env: { ENVIRONMENT: 'production', CORS_ORIGINS: 'https://chat.example' } })
  const base = await prod.listen({ port: 0, host: '127.0.0.1' })
  const preflight = async (headers: Record<string, string>): Promise<Response> =>
    await fetch(`${base}/api/v1/rooms`, { method: 'OPTIONS', headers })
  const check = async (t: Test, res: Response, status: number, code: string, label: string): Promise<void> => {
    t.equal(res.status, status, `${label}: ${status}`)
    t.match(res.headers.get('content-type'), /^application\/json/, `${label}: JSON`)
    t.match(await res.json(), { error: String, code }, `${label}: {"error","code":"${code}"}`)
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', `${label}: helmet's headers`)
    t.notOk(res.headers.get('access-control-allow-origin'), `${label}: no CORS grant`)
  }

  await check(t, await preflight({ origin: 'https://evil.example', 'access-control-request-method': 'POST' }), 403, 'ORIGIN_NOT_ALLOWED', 'another origin')
  await check(t, await preflight({ origin: 'https://chat.example' }), 400, 'INVALID_PREFLIGHT', 'no Access-Control-Request-Method')
  await check(t, await preflight({ 'access-control-request-method': 'POST' }), 400, 'INVALID_PREFLIGHT', 'no Origin')

  const allowed = await preflight({ origin: 'https://chat.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' })
  t.equal(allowed.status, 204, 'the allowed origin\'s preflight still succeeds')
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://chat.example')
  t.match(allowed.headers.get('access-control-allow-methods'), /POST/)

  const dev = await app.inject({ method: 'OPTIONS', url: '/api/v1/rooms', headers: { origin: 'https://any.example' } })
  t.equal(dev.statusCode, 400, 'development (any origin): a preflight without its method is still refused in our shape')
  t.match(dev.json(), { error: String, code: 'INVALID_PREFLIGHT' })
})

stillHealthy(t, app, user)
