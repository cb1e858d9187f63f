import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { build, json, signUp, uniqueEmail } from '../helper.js'
import { isClientError, stillHealthy } from './hostile.js'

// Response headers (helmet, CORS) on every answer, errors included, and JSON that stays JSON.

const app = await build(t)
const user = await signUp(app)

/** The headers @fastify/helmet sets for an API, which every response must carry. */
function hasSecurityHeaders (t: Test, res: LightMyRequestResponse, label: string): void {
  t.match(res.headers, {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'SAMEORIGIN',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'x-permitted-cross-domain-policies': 'none',
    'x-dns-prefetch-control': 'off'
  }, `${label}: helmet's headers`)
  t.notOk(res.headers['x-powered-by'], `${label}: no X-Powered-By`)
  t.notOk(res.headers.server, `${label}: no Server header naming the software`)
  t.match(res.headers['x-request-id'], /^\S+$/, `${label}: a request id`)
}

t.test('a successful response carries the security headers', async t => {
  const res = await app.inject({ url: '/api/v1/rooms', headers: user.auth })
  t.equal(res.statusCode, 200)
  hasSecurityHeaders(t, res, 'GET /rooms')
})

t.test('every kind of error response carries them too', async t => {
  const requests: Array<[InjectOptions, number]> = [
    [{ url: '/api/v1/rooms' }, 401],
    [{ url: '/api/v1/users/abc', headers: user.auth }, 400],
    [{ url: '/nowhere' }, 404],
    [{ url: '/%E0%A4%A' }, 400],
    [{ url: `/api/v1/users/${'9'.repeat(500)}`, headers: user.auth }, 400],
    [{ method: 'POST', url: '/api/v1/rooms', headers: { ...user.auth, 'content-type': 'text/plain' }, payload: 'x' }, 415],
    [{ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: 1, content: 'x'.repeat(70_000) } }, 413],
    [{ method: 'POST', url: '/api/v1/rooms', headers: { ...user.auth, 'content-type': 'application/json' }, payload: '{' }, 400]
  ]
  for (const [request, status] of requests) {
    const res = await app.inject(request)
    const label = `${request.method ?? 'GET'} ${(request.url as string).slice(0, 30)}`
    isClientError(t, res, status, label)
    hasSecurityHeaders(t, res, label)
    t.match(res.headers['content-type'], /^application\/json/, `${label}: JSON`)
  }
})

t.test('an undecodable URL (answered before any hook runs) gets the same headers as any other error', async t => {
  const ordinary = await app.inject({ url: '/nowhere' })
  const strays = await app.inject({ url: '/%E0%A4%A' })
  const names = (res: LightMyRequestResponse): string[] => Object.keys(res.headers).filter(h => !['date', 'content-length', 'connection', 'x-request-id'].includes(h)).sort()
  const security = (res: LightMyRequestResponse): string[] => names(res).filter(h => !h.startsWith('access-control') && h !== 'vary')
  t.same(security(strays), security(ordinary), 'the same security headers')
  for (const name of security(ordinary)) t.equal(strays.headers[name], ordinary.headers[name], name)
})

t.test('hostile input echoed in an error stays inside JSON', async t => {
  const res = await app.inject({ url: '/<script>alert(1)</script>' })
  isClientError(t, res, 404, 'a script tag in the path')
  t.match(res.headers['content-type'], /^application\/json/)
  t.notMatch(res.body, /<script>/, 'the path is not echoed raw')
  const field = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email: '<img src=x onerror=alert(1)>', password: 'correct horse battery staple', username: 'x' } })
  isClientError(t, field, 400, 'HTML in an email')
  t.notMatch(field.body, /<img/, 'the bad value is not echoed')
  const room = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: user.auth, payload: { name: '<script>alert(1)</script>' } })
  t.equal(room.statusCode, 201, 'stored verbatim (it is data; clients escape it)')
  t.match(room.headers['content-type'], /^application\/json/, 'served as JSON, never as HTML')
})

t.test('a long hostile x-request-id is answered, never a 5xx', async t => {
  const res = await app.inject({ url: '/health', headers: { 'x-request-id': '"}{"level":60,"msg":"forged"'.repeat(50) } })
  t.equal(res.statusCode, 200)
})

t.test('in production, CORS answers only the allowed origins', async t => {
  const prod = await build(t, { env: { ENVIRONMENT: 'production', CORS_ORIGINS: 'https://chat.example.com' } })
  const session = await signUp(prod, { email: uniqueEmail('prod') })
  const evil = await prod.inject({ url: '/api/v1/rooms', headers: { ...session.auth, origin: 'https://evil.example' } })
  t.notOk(evil.headers['access-control-allow-origin'], 'no Access-Control-Allow-Origin for another origin')
  const preflight = await prod.inject({ method: 'OPTIONS', url: '/api/v1/rooms', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
  t.ok(preflight.statusCode < 500)
  t.notOk(preflight.headers['access-control-allow-origin'], 'the preflight from another origin is not allowed')
  const good = await prod.inject({ url: '/api/v1/rooms', headers: { ...session.auth, origin: 'https://chat.example.com' } })
  t.equal(good.headers['access-control-allow-origin'], 'https://chat.example.com', 'the allowed origin is echoed, never *')
  t.notOk(good.headers['access-control-allow-credentials'], 'no credentials mode: tokens travel in a header, not cookies')
  const nullOrigin = await prod.inject({ url: '/api/v1/rooms', headers: { ...session.auth, origin: 'null' } })
  t.notOk(nullOrigin.headers['access-control-allow-origin'], 'the "null" origin (sandboxed frames, files) is not allowed')
  t.equal(json(await prod.inject({ url: '/health' })).status, 'OK')
})

stillHealthy(t, app, user)
