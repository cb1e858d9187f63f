// `npm start` as a real process: the embedded engine with nothing configured, a PostgreSQL server
// by DATABASE_URL or by the seed's DB_* variables, refusal of bad configuration, and SIGTERM.
import { join } from 'node:path'
import pg from 'pg'
import sharp from 'sharp'
import t from 'tap'
import { WebSocket } from 'ws'
import { adminUrl, freePort, freshDatabase, postgresReachable, redisUrl, uniqueEmail } from './helper.js'
import { type Server, start, tempDir, terminate, untilHealthy } from './server-process.js'

// Several real start-ups, each a few seconds (more on a loaded machine): more than the default budget.
t.setTimeout(300_000)

async function post (port: number, path: string, body: unknown): Promise<{ status: number, body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

async function get (port: number, path: string, token?: string): Promise<{ status: number, body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  return { status: res.status, body: await res.json() }
}

/** The engine the child reported in its "chat app ready" log line. */
function engineOf (server: Server): string | undefined {
  for (const line of server.stdout().split('\n')) {
    try {
      const entry = JSON.parse(line) as { msg?: string, engine?: string }
      if (entry.msg === 'chat app ready') return entry.engine
    } catch {
      // not a JSON log line
    }
  }
  return undefined
}

async function usersIn (databaseUrl: string, email: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query('select count(*)::int as n from users where email = $1', [email])
    return (rows[0] as { n: number }).n
  } finally {
    await client.end()
  }
}

t.test('npm start with no database configured serves on the embedded engine, and its data survives a restart', async t => {
  const dataDir = join(tempDir(t, 'chat-start-'), 'data')
  const email = uniqueEmail('embedded')
  const password = 'correct horse battery staple'

  const first = start(t, { PORT: String(await freePort()), DATA_DIR: dataDir })
  const cold = await untilHealthy(first)
  t.comment(`cold start on a new DATA_DIR: ${cold.toFixed(2)} s to /health 200`)
  t.equal(engineOf(first), 'embedded', 'the ready line names the embedded engine')
  const live = await get(first.port, '/health/live')
  t.equal(live.status, 200)

  const registered = await post(first.port, '/api/v1/users/register', { email, password, username: 'embedded' })
  t.equal(registered.status, 201, JSON.stringify(registered.body))
  const login = await post(first.port, '/api/v1/users/login', { email, password })
  t.equal(login.status, 200)
  const token = login.body.token as string

  const stopped = await terminate(first)
  t.equal(stopped.code, 0, 'SIGTERM exits 0 within 10 s')
  t.comment(`SIGTERM to exit: ${stopped.seconds.toFixed(2)} s`)

  const second = start(t, { PORT: String(await freePort()), DATA_DIR: dataDir })
  const warm = await untilHealthy(second)
  t.comment(`warm restart on the same DATA_DIR: ${warm.toFixed(2)} s to /health 200`)
  const again = await post(second.port, '/api/v1/users/login', { email, password })
  t.equal(again.status, 200, 'the user registered before the restart can log in')
  t.equal(again.body.user.email, email)
  const me = await get(second.port, `/api/v1/users/${registered.body.id as number}`, token)
  t.equal(me.status, 200, 'a token issued before the restart is still valid (the development secret is kept in DATA_DIR)')
  const duplicate = await post(second.port, '/api/v1/users/register', { email, password, username: 'again' })
  t.equal(duplicate.status, 409, 'the email is still taken')

  const stoppedAgain = await terminate(second)
  t.equal(stoppedAgain.code, 0, 'SIGTERM exits 0 within 10 s')
})

// Without a server these skip, unless REQUIRE_SERVICES=1 (then freshDatabase fails them).
const noServer = !await postgresReachable() && process.env.REQUIRE_SERVICES !== '1' ? `no PostgreSQL server at ${adminUrl}` : false

t.test('npm start on the PostgreSQL server named by DATABASE_URL', { skip: noServer }, async t => {
  const databaseUrl = await freshDatabase(t)
  const server = start(t, { PORT: String(await freePort()), DATABASE_URL: databaseUrl, DATA_DIR: tempDir(t, 'chat-pg-') })
  const seconds = await untilHealthy(server)
  t.comment(`start on PostgreSQL: ${seconds.toFixed(2)} s to /health 200`)
  t.equal(engineOf(server), 'postgres', 'the ready line names the postgres engine')

  const email = uniqueEmail('server')
  const registered = await post(server.port, '/api/v1/users/register', { email, password: 'correct horse battery staple', username: 'server' })
  t.equal(registered.status, 201)
  t.equal(await usersIn(databaseUrl, email), 1, 'the user is stored in that database')

  const stopped = await terminate(server)
  t.equal(stopped.code, 0, 'SIGTERM exits 0 within 10 s')
  t.comment(`SIGTERM to exit: ${stopped.seconds.toFixed(2)} s`)
})

// npm start runs the server's bundle (scripts/build.mjs `bundleServer`), which the in-process tests
// never load: everything that is loaded on first use, or finds files by its own location, through it.
t.test('npm start\'s bundle serves what is loaded on first use: migrations, Redis, metrics, passwords, uploads, thumbnails, docs, the demo page, WebSocket', { skip: noServer }, async t => {
  const databaseUrl = await freshDatabase(t)
  const metricsToken = 'bundle-metrics-token-0123456789'
  const server = start(t, { PORT: String(await freePort()), DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, METRICS_TOKEN: metricsToken, DATA_DIR: tempDir(t, 'chat-bundle-') })
  await untilHealthy(server)
  const base = `http://127.0.0.1:${server.port}`
  const logs = server.stdout()
  t.match(logs, /database schema up to date/, 'the migrations ran on the new database (the compiled migration files, loaded by the bundle\'s migrator)')

  const common = await post(server.port, '/api/v1/users/register', { email: uniqueEmail('bundle'), password: 'password1234', username: 'bundle0' })
  t.equal(common.status, 400, 'a common password is refused (the list, loaded at the first password)')
  const email = uniqueEmail('bundle')
  const password = 'correct horse battery staple'
  t.equal((await post(server.port, '/api/v1/users/register', { email, password, username: 'bundle' })).status, 201, 'registered (bcrypt in the password worker)')
  const { body: { token } } = await post(server.port, '/api/v1/users/login', { email, password })
  const auth = { authorization: `Bearer ${token as string}` }
  const room = await fetch(`${base}/api/v1/rooms`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bundle room' }) })
  t.equal(room.status, 201)
  const roomId = (await room.json() as { id: number }).id

  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${encodeURIComponent(token as string)}`)
  t.teardown(() => ws.terminate())
  const delivered = new Promise<any>((resolve, reject) => {
    ws.on('message', data => {
      const frame = JSON.parse(String(data)) as { type: string, payload: any }
      if (frame.type === 'message:new') resolve(frame.payload)
    })
    ws.once('error', reject)
  })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  ws.send(JSON.stringify({ type: 'room:join', payload: { room_id: roomId } }))

  const image = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 10, g: 120, b: 200 } } }).png().toBuffer()
  const form = new FormData()
  form.append('file', new Blob([image], { type: 'image/png' }), 'bundle.png')
  const uploaded = await fetch(`${base}/api/v1/attachments`, { method: 'POST', headers: auth, body: form })
  const attachment = await uploaded.json() as { id: string, content_type: string, width: number, height: number }
  t.equal(uploaded.status, 201, JSON.stringify(attachment))
  t.match(attachment, { content_type: 'image/png', width: 640, height: 480 }, 'typed from its bytes (file-type) and measured (sharp)')
  const thumbnail = await fetch(`${base}/api/v1/attachments/${attachment.id}/thumbnail`, { headers: auth })
  t.equal(thumbnail.status, 200)
  t.match(await sharp(Buffer.from(await thumbnail.arrayBuffer())).metadata(), { width: 320, height: 240 }, 'a thumbnail made by sharp')

  const sent = await fetch(`${base}/api/v1/messages`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ room_id: roomId, content: 'hello from the bundle', attachment_ids: [attachment.id] }) })
  t.equal(sent.status, 201, await sent.text())
  const timeout = new Promise((_resolve, reject) => setTimeout(() => reject(new Error('no message:new within 10 s')), 10_000).unref())
  t.match(await Promise.race([delivered, timeout]), { room_id: roomId, content: 'hello from the bundle' }, 'the socket got the message (through Redis)')
  const found = await fetch(`${base}/api/v1/search/messages?q=bundle`, { headers: auth })
  t.equal(found.status, 200)
  t.equal((await found.json() as { results: unknown[] }).results.length, 1, 'search finds it')

  const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })
  t.equal(metrics.status, 200)
  t.match(await metrics.text(), /^http_request_duration_seconds_count\{/m, 'metrics (prom-client, loaded because METRICS_TOKEN is set)')
  const docs = await fetch(`${base}/docs/static/index.html`)
  t.equal(docs.status, 200, 'Swagger UI\'s own files (found by its __dirname)')
  t.match(await docs.text(), /swagger-ui/i)
  const page = await fetch(`${base}/`)
  t.equal(page.status, 200, 'the demo page (dist/web, found from the bundle)')
  t.match(await page.text(), /<script[^>]+src=/)
  t.notMatch(server.stdout(), /"level":[56]0/, 'no error logged')
  t.equal((await terminate(server)).code, 0)
})

t.test('npm start with the seed\'s DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_SSLMODE', { skip: noServer }, async t => {
  const databaseUrl = await freshDatabase(t)
  const url = new URL(databaseUrl)
  const env: Record<string, string> = {
    PORT: String(await freePort()),
    DATA_DIR: tempDir(t, 'chat-seed-'),
    DB_HOST: url.hostname,
    DB_PORT: url.port === '' ? '5432' : url.port,
    DB_NAME: url.pathname.slice(1),
    DB_USER: decodeURIComponent(url.username),
    DB_SSLMODE: 'disable'
  }
  if (url.password !== '') env.DB_PASSWORD = decodeURIComponent(url.password)
  const server = start(t, env)
  await untilHealthy(server)
  t.equal(engineOf(server), 'postgres')

  const email = uniqueEmail('seedvars')
  t.equal((await post(server.port, '/api/v1/users/register', { email, password: 'correct horse battery staple', username: 'seed' })).status, 201)
  t.equal(await usersIn(databaseUrl, email), 1, 'the user is stored in the database the DB_* variables name')

  t.equal((await terminate(server)).code, 0, 'SIGTERM exits 0 within 10 s')
})

t.test('bad configuration stops start-up with one line naming the variable', async t => {
  const cases: Array<{ env: Record<string, string>, variable: string }> = [
    { env: { PORT: 'abc' }, variable: 'PORT' },
    { env: { ENVIRONMENT: 'production' }, variable: 'JWT_SECRET' },
    { env: { DATABASE_URL: 'mysql://root@127.0.0.1/chat' }, variable: 'DATABASE_URL' },
    { env: { DB_HOST: '127.0.0.1', DB_SSLMODE: 'sometimes' }, variable: 'DB_SSLMODE' }
  ]
  // One after another: each start-up loads the whole app first, several seconds on a busy machine.
  for (const { env, variable } of cases) {
    const started = Date.now()
    const server = start(t, { DATA_DIR: tempDir(t, 'chat-bad-'), ...env })
    let timer: NodeJS.Timeout | undefined
    const code = await Promise.race([server.exited, new Promise<string>(resolve => { timer = setTimeout(() => resolve('still running'), 60_000) })])
    clearTimeout(timer)
    const label = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')
    t.not(code, 0, `${label}: exits non-zero`)
    t.not(code, 'still running', `${label}: exits`)
    const lines = server.stderr().split('\n').filter(line => line.trim() !== '')
    t.equal(lines.length, 1, `${label}: one line on stderr: ${server.stderr()}`)
    t.match(lines[0], new RegExp(`\\b${variable}\\b`), `${label}: the line names ${variable}`)
    t.comment(`${label}: refused in ${((Date.now() - started) / 1000).toFixed(2)} s`)
  }
})
