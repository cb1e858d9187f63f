// Graceful shutdown of the real process under load: SIGTERM while REST sends are running and
// sockets are open. In-flight requests finish, new ones are refused (503 or a refused connection,
// never a hang), sockets get 1001, the pool and Redis are closed, the process exits 0 within 10 s,
// and every acknowledged message is stored. A second signal exits at once. A kept-alive connection
// whose answer was in flight at the signal (a send, a download) does not hold the exit.
import http from 'node:http'
import pg from 'pg'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { freePort, freshDatabase } from '../helper.js'
import { PrivateRedis } from '../ws-client.js'
import { exitWithin, logLines, type Server, start, tempDir, terminate, untilHealthy } from '../server-process.js'

t.setTimeout(120_000)

const JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long'

async function api (server: Server, path: string, body: unknown, token?: string): Promise<{ status: number, body: any }> {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000)
  })
  return { status: res.status, body: await res.json() }
}

/** A user with a room, through the API. */
async function setUp (server: Server): Promise<{ token: string, roomId: number }> {
  const email = `shutdown.${process.pid}.${Date.now()}@example.com`
  const password = 'correct horse battery staple'
  const registered = await api(server, '/api/v1/users/register', { email, password, username: 'shutdown' })
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`)
  const { token } = (await api(server, '/api/v1/users/login', { email, password })).body as { token: string }
  const room = await api(server, '/api/v1/rooms', { name: 'shutdown' }, token)
  return { token, roomId: room.body.id as number }
}

/** The server (`npm start`) on a fresh database, rate limits off, healthy, with a user and a room of theirs; `env` adds to its environment. */
async function startWithRoom (t: Test, env: Record<string, string> = {}): Promise<{ server: Server, databaseUrl: string, token: string, roomId: number }> {
  const databaseUrl = await freshDatabase(t)
  const server = start(t, { PORT: String(await freePort()), DATABASE_URL: databaseUrl, JWT_SECRET, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'info', ...env })
  await untilHealthy(server)
  return { server, databaseUrl, ...await setUp(server) }
}

async function openSocket (server: Server, token: string): Promise<{ ws: WebSocket, closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${token}`)
  const closed = new Promise<number>(resolve => ws.once('close', code => resolve(code)))
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  ws.on('error', () => {})
  return { ws, closed }
}

type Outcome = { kind: 'stored', id: number } | { kind: 'refused', how: string } | { kind: 'hang' } | { kind: 'other', how: string }

/** One send, classified: 201 (stored), refused (503, or the connection refused or reset), or a hang. */
async function send (server: Server, token: string, roomId: number, content: string): Promise<Outcome> {
  try {
    const res = await api(server, '/api/v1/messages', { room_id: roomId, content }, token)
    if (res.status === 201) return { kind: 'stored', id: res.body.id }
    if (res.status === 503 && typeof res.body.error === 'string') return { kind: 'refused', how: '503' }
    return { kind: 'other', how: `${res.status} ${JSON.stringify(res.body)}` }
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name
    if (cause === 'TimeoutError') return { kind: 'hang' }
    // ECONNREFUSED once it stopped listening; a reset or "other side closed" for a kept-alive connection closing.
    if (['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'].includes(cause)) return { kind: 'refused', how: cause }
    return { kind: 'other', how: `${String(cause)}: ${(err as Error).message}` }
  }
}

async function storedIds (databaseUrl: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ id: number }>('SELECT id FROM messages ORDER BY id')
    return rows.map(r => r.id)
  } finally {
    await client.end()
  }
}

/**
 * Holds the room's row lock from outside (a transaction left open): a send waits on it (up to the
 * 10 s statement timeout), so the shutdown has an in-flight request to wait for. ROLLBACK lets it go.
 */
async function lockRoom (t: Test, databaseUrl: string, roomId: number): Promise<pg.Client> {
  const locker = new pg.Client({ connectionString: databaseUrl })
  await locker.connect()
  t.teardown(async () => { await locker.end() })
  await locker.query('BEGIN')
  await locker.query('SELECT * FROM rooms WHERE id = $1 FOR UPDATE', [roomId])
  return locker
}

/** Until a statement of the database is waiting on a lock (the send on the locked room). */
async function untilWaitingOnLock (locker: pg.Client): Promise<void> {
  for (let i = 0; i < 100; i++) {
    // Inside the locker's transaction pg_stat_activity is a snapshot taken at its first read: clear it each time.
    await locker.query('SELECT pg_stat_clear_snapshot()')
    const { rows } = await locker.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
    if (rows[0]!.n > 0) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error('no statement waited on the room lock within 5 s')
}

t.test('SIGTERM under load: sockets get 1001, in-flight sends finish, the rest are refused, exit 0 within 10 s, nothing acknowledged is lost', async t => {
  const redis = await PrivateRedis.start(t)
  const { server, databaseUrl, token, roomId } = await startWithRoom(t, { REDIS_URL: redis.url })
  const sockets = await Promise.all(Array.from({ length: 20 }, async () => await openSocket(server, token)))

  // Eight clients sending one message after another until the server stops answering.
  const outcomes: Outcome[] = []
  let stopping = false
  let n = 0
  const client = async (): Promise<void> => {
    for (;;) {
      const outcome = await send(server, token, roomId, `load ${++n}`)
      outcomes.push(outcome)
      if (outcome.kind === 'hang' || (stopping && outcome.kind === 'refused' && outcome.how === 'ECONNREFUSED')) return
      if (server.child.exitCode !== null) return
    }
  }
  const clients = Array.from({ length: 8 }, client)
  // And clients that reconnect their socket as soon as it closes, as browsers do: upgrade requests
  // arrive throughout the shutdown and must not hold it up.
  let upgradesRefused = 0
  const reconnecting = async (): Promise<void> => {
    while (server.child.exitCode === null) {
      try {
        const { closed } = await openSocket(server, token)
        await closed
      } catch {
        upgradesRefused++
        await new Promise(resolve => setTimeout(resolve, 10))
      }
    }
  }
  const reconnectors = Array.from({ length: 4 }, reconnecting)
  while (outcomes.filter(o => o.kind === 'stored').length < 40) await new Promise(resolve => setTimeout(resolve, 20))

  stopping = true
  const stopped = await terminate(server)
  await Promise.all([...clients, ...reconnectors])
  t.comment(`${upgradesRefused} socket upgrades refused during the shutdown`)

  t.equal(stopped.code, 0, `exits 0 within 10 s (took ${stopped.seconds.toFixed(2)} s)`)
  t.comment(`SIGTERM to exit under load: ${stopped.seconds.toFixed(2)} s`)
  const log = logLines(server)
  // What the server said after the signal (it names what is still open when the close is slow).
  if (stopped.seconds > 5) t.comment(JSON.stringify(log.slice(log.findIndex(l => l.msg === 'shutting down')).filter(l => (l.level ?? 0) >= 40)).slice(0, 4000))
  t.ok(log.some(l => l.msg === 'shutting down'), 'it logged the shutdown')
  t.notOk(log.some(l => /killed by timeout/.test(String(l.msg))), 'app.close() finished (pool and Redis closed) before the 10 s limit, not cut short')

  const codes = await Promise.all(sockets.map(async s => await s.closed))
  t.same([...new Set(codes)], [1001], 'every socket was closed with 1001 (going away)')

  const stored = outcomes.flatMap(o => o.kind === 'stored' ? [o.id] : [])
  const refused = outcomes.filter(o => o.kind === 'refused')
  t.same(outcomes.filter(o => o.kind === 'hang'), [], 'no request hung')
  t.same(outcomes.filter(o => o.kind === 'other'), [], 'every request was stored (201) or refused (503, connection refused or reset)')
  t.ok(refused.length > 0, 'requests after the signal were refused')
  t.comment(`${stored.length} sends acknowledged, ${refused.length} refused (${[...new Set(refused.map(o => o.kind === 'refused' ? o.how : ''))].join(', ')})`)
  t.same(await storedIds(databaseUrl), stored.sort((a, b) => a - b), 'every acknowledged message is stored, once, and nothing else')
})

t.test('a second SIGTERM during a slow shutdown exits at once', async t => {
  const { server, databaseUrl, token, roomId } = await startWithRoom(t)

  const locker = await lockRoom(t, databaseUrl, roomId)
  const inFlight = send(server, token, roomId, 'held up')
  await untilWaitingOnLock(locker)

  server.child.kill('SIGTERM')
  t.equal(await exitWithin(server, 1500), 'still running', 'the first SIGTERM waits for the in-flight request')
  const during = await send(server, token, roomId, 'after the signal')
  t.equal(during.kind, 'refused', `a new request during the shutdown is refused (${JSON.stringify(during)})`)

  const second = Date.now()
  server.child.kill('SIGTERM')
  const code = await exitWithin(server, 5000)
  t.equal(code, 1, 'the second SIGTERM exits at once, with 1 (close-with-grace: the shutdown was cut short)')
  t.comment(`second SIGTERM to exit: ${Date.now() - second} ms`)
  t.ok(logLines(server).some(l => /second SIGTERM/.test(String(l.msg))), 'and says so in the log')
  const held = await inFlight
  t.not(held.kind, 'stored', 'the held-up request was not acknowledged')
  t.not(held.kind, 'hang', 'and did not hang: its connection was closed')
  await locker.query('ROLLBACK')
})

t.test('a kept-alive connection whose request was in flight at SIGTERM is closed once answered: the shutdown does not wait for its client', async t => {
  const { server, databaseUrl, token, roomId } = await startWithRoom(t)
  const locker = await lockRoom(t, databaseUrl, roomId)

  // A client that keeps its connection open for a next request it never sends (Fastify's
  // keepAliveTimeout is 72 s, past close-with-grace's 10 s limit).
  const agent = new http.Agent({ keepAlive: true })
  t.teardown(() => { agent.destroy() })
  const body = JSON.stringify({ room_id: roomId, content: 'in flight at the signal' })
  const answered = new Promise<{ status: number, connection: string | undefined, id: unknown }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path: '/api/v1/messages', method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, id: (JSON.parse(text) as { id?: unknown }).id }))
    })
    req.on('error', reject)
    req.end(body)
  })
  await untilWaitingOnLock(locker)

  server.child.kill('SIGTERM')
  t.equal(await exitWithin(server, 500), 'still running', 'the shutdown waits for the in-flight send')
  await locker.query('ROLLBACK')
  const answer = await answered
  t.equal(answer.status, 201, 'the send in flight at the signal is stored and acknowledged')
  t.equal(answer.connection, 'close', 'its answer tells the client not to reuse the connection')
  // Without the close, the process waited for the client until close-with-grace's limit (10 s after the signal) and exited 1.
  t.equal(await exitWithin(server, 8000), 0, 'the process exits 0 once it is answered, not at the 10 s limit')
  t.notOk(logLines(server).some(l => /killed by timeout/.test(String(l.msg))), 'app.close() finished (pool closed), not cut short')
  t.same(await storedIds(databaseUrl), [answer.id], 'the acknowledged send is stored')
})

t.test('a download whose headers went out before SIGTERM: its kept-alive connection is closed once the body is sent, and the process exits 0', async t => {
  const size = 32 * 1024 * 1024
  const { server, token } = await startWithRoom(t, { DATA_DIR: tempDir(t, 'chat-shutdown-'), MAX_UPLOAD_BYTES: String(2 * size) })
  const form = new FormData()
  form.append('file', new Blob([Buffer.alloc(size, 7)]), 'large.bin')
  const uploaded = await fetch(`http://127.0.0.1:${server.port}/api/v1/attachments`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
  t.equal(uploaded.status, 201, 'uploaded')
  const { id } = await uploaded.json() as { id: string }

  // A reader that takes the headers, then stops reading until after the signal: the answer is in
  // flight (its body held back by the socket) when the shutdown begins.
  const agent = new http.Agent({ keepAlive: true })
  t.teardown(() => { agent.destroy() })
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: server.port, path: `/api/v1/attachments/${id}`, agent, headers: { authorization: `Bearer ${token}` } }, resolve).on('error', reject)
  })
  response.pause()
  t.equal(response.statusCode, 200, 'the download began')
  t.equal(response.headers.connection, 'keep-alive', 'kept alive: its headers went out before the signal')

  server.child.kill('SIGTERM')
  t.equal(await exitWithin(server, 500), 'still running', 'the shutdown waits for the download')
  let received = 0
  response.on('data', (chunk: Buffer) => { received += chunk.length })
  const ended = new Promise(resolve => response.once('end', resolve))
  response.resume()
  await ended
  t.equal(received, size, 'the whole file arrived')
  t.equal(await exitWithin(server, 8000), 0, 'the process exits 0 once it is sent, not at the 10 s limit')
})
