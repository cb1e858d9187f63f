import t from 'tap'
import { UNMATCHED_ROUTE } from '../../plugins/metrics.js'
import { build, createRoom, json, signUp } from '../helper.js'
import { type Scrape, scrape } from '../prometheus.js'
import { listen, PATIENCE_MS, TestSocket } from '../ws-client.js'

// GET /metrics read as Prometheus reads it (a third-party text-format parser), on apps on real
// PostgreSQL; every figure checked is one that the test's own traffic moved.

const TOKEN = 'metrics-token-for-the-tests-0123456789'

/** Scrapes until `check` holds (a socket's close reaches the server a moment after the client's). */
async function eventually (app: Parameters<typeof scrape>[0], check: (s: Scrape) => boolean, what: string): Promise<Scrape> {
  const started = Date.now()
  for (;;) {
    const s = await scrape(app)
    if (check(s)) return s
    if (Date.now() - started > PATIENCE_MS) throw new Error(`gave up waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

t.test('development without METRICS_TOKEN: open, Prometheus text', async t => {
  const app = await build(t)
  const user = await signUp(app)
  const roomId = await createRoom(app, user, 'metrics room')

  t.test('the text format, with process, event-loop and pool metrics', async t => {
    const response = await app.inject({ url: '/metrics' })
    t.equal(response.statusCode, 200)
    t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/)
    const s = await scrape(app)
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      t.ok(s.family(name) !== undefined, `${name} is there`)
    }
    t.equal(s.family('http_request_duration_seconds')?.type, 'HISTOGRAM')
    t.equal(s.family('chat_messages_sent_total')?.type, 'COUNTER')
    t.equal(s.family('chat_websocket_connections')?.type, 'GAUGE')
    t.equal(s.family('chat_fanout_latency_seconds')?.type, 'HISTOGRAM')
    t.equal(s.value('chat_db_pool_max_clients'), 10, 'the pool\'s size')
    const total = s.value('chat_db_pool_clients')
    t.ok(total >= 1 && total <= 10, `connections open: ${total}`)
    t.ok(s.value('chat_db_pool_idle_clients') <= total, 'idle ones are among them')
    t.equal(s.value('chat_db_pool_waiting_requests'), 0, 'nothing waits for a connection between requests')
  })

  t.test('requests are counted by route pattern and status, never by URL', async t => {
    const route = { method: 'GET', route: '/api/v1/users/:id', status_code: '200' }
    const before = await scrape(app)
    for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: `/api/v1/users/${user.id}`, headers: user.auth })).statusCode, 200)
    t.equal((await app.inject({ url: '/api/v1/users/2147483647', headers: user.auth })).statusCode, 404)
    t.equal((await app.inject({ url: `/no/such/path/${user.id}` })).statusCode, 404)
    const after = await scrape(app)
    t.equal(after.count('http_request_duration_seconds', route) - before.count('http_request_duration_seconds', route), 3, 'three 200s on /api/v1/users/:id')
    t.equal(after.count('http_request_duration_seconds', { ...route, status_code: '404' }) - before.count('http_request_duration_seconds', { ...route, status_code: '404' }), 1, 'one 404 on the same pattern')
    t.equal(after.count('http_request_duration_seconds', { route: UNMATCHED_ROUTE, status_code: '404' }) - before.count('http_request_duration_seconds', { route: UNMATCHED_ROUTE, status_code: '404' }), 1, 'an unknown path under one label')
    const routes = after.labelValues('http_request_duration_seconds', 'route')
    t.ok(routes.includes('/api/v1/users/:id') && routes.includes('/metrics'), `route patterns: ${routes.join(', ')}`)
    t.notOk(routes.some(r => /\/\d+(\/|$)/.test(r) || r.startsWith('/no/')), 'no URL as a label: no numeric path segment, no unknown path')
    const series = after.histogram('http_request_duration_seconds', route)
    t.equal(series.buckets['+Inf'], series.count, 'every request falls in the +Inf bucket')
    t.ok(Object.keys(series.buckets).length > 5, 'with the finer buckets too')
    t.ok(series.sum > 0, 'durations add up to more than nothing')
  })

  t.test('a message sent over REST and one over a WebSocket both count; the socket gauge follows the socket', async t => {
    const url = await listen(app)
    const before = await scrape(app)
    const sockets = before.value('chat_websocket_connections')
    const sent = before.value('chat_messages_sent_total')

    const socket = await TestSocket.as(t, url, user)
    t.equal((await scrape(app)).value('chat_websocket_connections'), sockets + 1, 'one more open socket')

    const rest = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: roomId, content: 'counted over REST' } })
    t.equal(rest.statusCode, 201)
    await socket.message('counted over REST')
    t.equal((await scrape(app)).value('chat_messages_sent_total'), sent + 1, 'the REST send counts')

    socket.send({ type: 'message:send', payload: { room_id: roomId, content: 'counted over WebSocket' } })
    await socket.message('counted over WebSocket')
    t.equal((await scrape(app)).value('chat_messages_sent_total'), sent + 2, 'the WebSocket send counts')

    const retry = { room_id: roomId, content: 'sent twice, stored once', client_msg_id: 'metrics-retry-1' }
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: retry })).statusCode, 201)
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: retry })).statusCode, 200)
    t.equal((await scrape(app)).value('chat_messages_sent_total'), sent + 3, 'a retry with the same client_msg_id stores nothing and counts nothing')

    socket.ws.close()
    await socket.closed
    const closed = await eventually(app, s => s.value('chat_websocket_connections') === sockets, 'the closed socket is no longer counted')
    t.equal(closed.value('chat_websocket_connections'), sockets, 'back down after close')
  })

  t.test('fan-out latency is what the hub reports through app.metrics.observeFanout', async t => {
    const before = await scrape(app)
    app.metrics.observeFanout(0.003)
    app.metrics.observeFanout(0.2)
    const after = await scrape(app)
    t.equal(after.count('chat_fanout_latency_seconds') - before.count('chat_fanout_latency_seconds'), 2)
    const bucket = (s: Scrape, le: string): number => s.histogram('chat_fanout_latency_seconds').buckets[le] ?? 0
    t.equal(bucket(after, '0.005') - bucket(before, '0.005'), 1, '3 ms falls under 5 ms')
    t.equal(bucket(after, '0.25') - bucket(before, '0.25'), 2, 'both under 250 ms')
  })

  t.test('a stored message is observed once it was delivered to this instance\'s sockets', async t => {
    const before = await scrape(app)
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: roomId, content: 'timed' } })).statusCode, 201)
    const after = await scrape(app)
    t.equal(after.count('chat_fanout_latency_seconds') - before.count('chat_fanout_latency_seconds'), 1, 'one observation for one message')
  })

  t.test('a second app in the same process keeps its own counts', async t => {
    const other = await build(t)
    const otherBefore = (await scrape(other)).value('chat_messages_sent_total')
    const mine = (await scrape(app)).value('chat_messages_sent_total')
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: roomId, content: 'only this app' } })).statusCode, 201)
    t.equal((await scrape(app)).value('chat_messages_sent_total'), mine + 1)
    t.equal((await scrape(other)).value('chat_messages_sent_total'), otherBefore, 'the other app did not count it')
  })
})

t.test('with METRICS_TOKEN: 401 without the token, 200 with it', async t => {
  const app = await build(t, { env: { METRICS_TOKEN: TOKEN } })
  for (const [label, authorization] of [
    ['no header', undefined],
    ['a wrong token of the same length', `Bearer ${TOKEN.replace(/.$/, 'x')}`],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, 20)}`],
    ['the token as Basic', `Basic ${TOKEN}`],
    ['the token with no scheme', TOKEN]
  ] as const) {
    const response = await app.inject({ url: '/metrics', headers: authorization === undefined ? {} : { authorization } })
    t.equal(response.statusCode, 401, `${label}: 401`)
    t.match(json(response), { error: /METRICS_TOKEN/, code: 'METRICS_TOKEN_REQUIRED' }, `${label}: an error body`)
    t.notOk(response.body.includes('http_request_duration_seconds'), `${label}: no metrics`)
  }
  const user = await signUp(app)
  t.equal((await app.inject({ url: '/metrics', headers: user.auth })).statusCode, 401, 'a user\'s JWT is not the metrics token')

  const s = await scrape(app, { authorization: `Bearer ${TOKEN}` })
  t.ok(s.count('http_request_duration_seconds', { route: '/metrics', status_code: '401' }) >= 6, 'the refused scrapes were counted too')
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: `bearer ${TOKEN}` } })).statusCode, 200, 'the scheme is case-insensitive')
})

t.test('production without METRICS_TOKEN: 404, and nothing is collected', async t => {
  const app = await build(t, { env: { ENVIRONMENT: 'production' } })
  const response = await app.inject({ url: '/metrics' })
  t.equal(response.statusCode, 404)
  t.match(json(response), { code: 'ROUTE_NOT_FOUND' }, 'the answer of any unknown path')
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 404, 'no token opens it')
  t.equal(app.metrics.registry, undefined, 'no registry')
  t.doesNotThrow(() => { app.metrics.observeFanout(0.01) }, 'the hub\'s calls are no-ops')
})

t.test('production with METRICS_TOKEN: served behind it', async t => {
  const app = await build(t, { env: { ENVIRONMENT: 'production', METRICS_TOKEN: TOKEN } })
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 401)
  t.ok((await scrape(app, { authorization: `Bearer ${TOKEN}` })).family('process_cpu_user_seconds_total') !== undefined)
})

t.test('the embedded engine: no pool to report', async t => {
  const app = await build(t, { engine: 'embedded' })
  const s = await scrape(app)
  t.ok(s.family('chat_messages_sent_total') !== undefined, 'the other metrics are there')
  t.same([...s.families.keys()].filter(name => name.startsWith('chat_db_pool_')), [], 'no chat_db_pool_* series')
})
