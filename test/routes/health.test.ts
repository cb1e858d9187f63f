import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { adminUrl, build, freshDatabase, json, postgresReachable, signUp, testConfig } from '../helper.js'

/** What @fastify/helmet sets for an API (CSP is off: the API answers JSON). */
const securityHeaders = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'referrer-policy': 'no-referrer',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-permitted-cross-domain-policies': 'none',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'cross-origin',
  'origin-agent-cluster': '?1',
  'x-xss-protection': '0'
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

t.test('health and headers', async t => {
  const app = await build(t)

  t.test('GET /health is 200 {status: OK, timestamp} while the database answers', async t => {
    const res = await app.inject({ url: '/health' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^application\/json/)
    const body = json(res)
    t.match(body, { status: 'OK', timestamp: String })
    t.ok(Math.abs(Date.parse(body.timestamp) - Date.now()) < 60_000, 'timestamp is now')
  })

  t.test('GET /health/live is 200 without a token', async t => {
    const res = await app.inject({ url: '/health/live' })
    t.equal(res.statusCode, 200)
    t.match(json(res), { status: 'OK' })
  })

  t.test('security headers are on every kind of response', async t => {
    const user = await signUp(app)
    const responses = {
      health: await app.inject({ url: '/health' }),
      ok: await app.inject({ url: '/api/v1/rooms', headers: user.auth }),
      created: await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: user.auth, payload: { name: 'h' } }),
      unauthorized: await app.inject({ url: '/api/v1/rooms' }),
      invalid: await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: user.auth, payload: { name: '' } }),
      malformed: await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { ...user.auth, 'content-type': 'application/json' }, payload: '{' }),
      notFound: await app.inject({ url: '/nowhere' })
    }
    for (const [label, res] of Object.entries(responses)) {
      t.match(res.headers, securityHeaders, `${label} (${res.statusCode}) has helmet's headers`)
      // Over plain HTTP: HSTS only with TLS on (test/security/transport.test.ts).
      t.notOk(res.headers['strict-transport-security'], `${label} has no HSTS without TLS`)
      t.notOk(res.headers['x-powered-by'], `${label} does not advertise the server`)
    }
  })

  t.test('every response carries an x-request-id; a caller\'s own id is echoed', async t => {
    const a = await app.inject({ url: '/health/live' })
    const b = await app.inject({ url: '/nowhere' })
    t.match(a.headers['x-request-id'], UUID)
    t.match(b.headers['x-request-id'], UUID)
    t.not(a.headers['x-request-id'], b.headers['x-request-id'], 'a new id per request')
    const mine = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'trace-abc-123' } })
    t.equal(mine.headers['x-request-id'], 'trace-abc-123')
  })

  t.test('CORS answers any origin in development', async t => {
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/api/v1/rooms',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' }
    })
    t.ok(res.statusCode === 204 || res.statusCode === 200, `preflight ${res.statusCode}`)
    t.equal(res.headers['access-control-allow-origin'], 'https://app.example')
    t.match(res.headers['access-control-allow-methods'], /POST/)
  })
})

t.test('CORS in production allows only the configured origins', async t => {
  const app = await build(t, { env: { ENVIRONMENT: 'production', CORS_ORIGINS: 'https://chat.example' } })
  const allowed = await app.inject({ url: '/health/live', headers: { origin: 'https://chat.example' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://chat.example')
  const other = await app.inject({ url: '/health/live', headers: { origin: 'https://evil.example' } })
  t.equal(other.statusCode, 200)
  t.notOk(other.headers['access-control-allow-origin'], 'no CORS grant for another origin')
})

/** A TCP relay to the test server that can be cut and restored: the database "goes away" for real. */
async function relay (target: URL): Promise<{ port: number, cut: () => Promise<void>, restore: () => Promise<void>, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer(client => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    sockets.add(client).add(upstream)
    const drop = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream).pipe(client)
  })
  const listen = async (port: number): Promise<number> => await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve((server.address() as AddressInfo).port) })
  })
  const stop = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    if (server.listening) await new Promise<void>(resolve => server.close(() => resolve()))
  }
  const port = await listen(0)
  return { port, cut: stop, restore: async () => { await listen(port) }, close: stop }
}

t.test('readiness is 503 while the database is unreachable, and recovers', async t => {
  if (!await postgresReachable()) {
    t.comment('# SKIP needs the PostgreSQL test server (a relay in front of it is cut and restored)')
    t.pass('skipped: no PostgreSQL server')
    return
  }
  const url = new URL(await freshDatabase(t))
  const proxy = await relay(new URL(adminUrl))
  t.teardown(proxy.close)
  url.hostname = '127.0.0.1'
  url.port = String(proxy.port)
  const app = buildApp(testConfig({ DATABASE_URL: url.toString() }), { logger: false })
  t.teardown(async () => { await app.close() })
  await app.ready()

  const user = await signUp(app)
  t.equal((await app.inject({ url: '/health' })).statusCode, 200)

  // GET /health reuses one database check for a second: the next check sees the cut.
  const readiness = async (status: number): Promise<LightMyRequestResponse> => {
    let health = await app.inject({ url: '/health' })
    for (let i = 0; i < 40 && health.statusCode !== status; i++) {
      await new Promise(resolve => setTimeout(resolve, 250))
      health = await app.inject({ url: '/health' })
    }
    return health
  }

  await proxy.cut()
  const health = await readiness(503)
  t.equal(health.statusCode, 503)
  t.match(json(health), { status: 'unavailable', timestamp: String })
  const live = await app.inject({ url: '/health/live' })
  t.equal(live.statusCode, 200, 'liveness does not touch the database')
  const api = await app.inject({ url: '/api/v1/rooms', headers: user.auth })
  t.equal(api.statusCode, 503, 'an API call answers 503, not 500')
  t.match(json(api), { error: String })
  t.ok(api.headers['retry-after'], 'with Retry-After')

  await proxy.restore()
  t.equal((await readiness(200)).statusCode, 200, 'ready again once the database is back')
  t.equal((await app.inject({ url: '/api/v1/rooms', headers: user.auth })).statusCode, 200)
})
