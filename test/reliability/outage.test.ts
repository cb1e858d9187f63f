// A database outage under load: while PostgreSQL is down the API answers 503 {"error"} within 2 s
// (never hangs, never dies), open sockets stay open, and the same process recovers once PostgreSQL
// is back, having stored every message it acknowledged exactly once. Runs on a throwaway
// PostgreSQL cluster of its own: the shared server on 5432 is never stopped.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { checkResponsesAgainstOpenApi, freePort, json, signUp, testConfig } from '../helper.js'
import { listen, TestSocket } from '../ws-client.js'

const run = promisify(execFile)
const PG_BIN = '/usr/lib/postgresql/15/bin'
const asRoot = process.getuid?.() === 0

/** Runs a PostgreSQL tool as the postgres user when we are root (initdb refuses root). */
async function pgTool (tool: string, args: string[]): Promise<void> {
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, tool), ...args]] : [join(PG_BIN, tool), args]
  await run(command, argv, { timeout: 60_000 })
}

async function timed<T> (fn: () => Promise<T>): Promise<{ value: T, ms: number }> {
  const started = performance.now()
  const value = await fn()
  return { value, ms: Math.round(performance.now() - started) }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

const noBinaries = existsSync(join(PG_BIN, 'pg_ctl')) || process.env.REQUIRE_SERVICES === '1' ? false : `no PostgreSQL binaries in ${PG_BIN}`

t.test('a database outage under load answers 503 at once, keeps sockets open, and the same process recovers', { skip: noBinaries }, async t => {
  // The throwaway cluster: data in base/data, the socket in base; all of it belongs to postgres.
  const base = mkdtempSync(join(tmpdir(), 'chat-outage-'))
  const data = join(base, 'data')
  t.teardown(async () => {
    await pgTool('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => {})
    rmSync(base, { recursive: true, force: true })
  })
  if (asRoot) await run('chown', ['postgres:postgres', base])
  await pgTool('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync'])
  const port = await freePort()
  const databaseUrl = `postgres://postgres@127.0.0.1:${port}/postgres`
  const startPostgres = async (): Promise<void> => {
    await pgTool('pg_ctl', ['-D', data, '-o', `-p ${port} -k ${base} -c listen_addresses=127.0.0.1`, '-l', join(base, 'log'), '-w', 'start'])
  }
  const stopPostgres = async (): Promise<void> => { await pgTool('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']) }
  await startPostgres()

  const app: FastifyInstance = buildApp(testConfig({ DATABASE_URL: databaseUrl }), { logger: false })
  // Every response, the 503s included, must be one openapi.yaml describes.
  checkResponsesAgainstOpenApi(t, app)
  const url = await listen(app)

  const alice = await signUp(app)
  const bob = await signUp(app)
  const room = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: alice.auth, payload: { name: 'outage' } })
  t.equal(room.statusCode, 201)
  const roomId = json(room).id as number
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/rooms/${roomId}/join`, headers: bob.auth })).statusCode, 200)
  const sockets = await Promise.all([alice, bob, bob].map(async user => await TestSocket.as(t, url, user)))
  const closedDuringOutage: number[] = []
  for (const socket of sockets) socket.closed.then(({ code }) => { closedDuringOutage.push(code) }, () => {})

  // A steady load: two clients, each sending one message after another, every one recorded.
  const send = async (content: string): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: roomId, content } })
  type Outcome = { content: string, status: number, ms: number, body: any, phase: string }
  const outcomes: Outcome[] = []
  let phase = 'before'
  let loading = true
  const keepLoading = (): boolean => loading
  let n = 0
  const client = async (): Promise<void> => {
    while (keepLoading()) {
      const content = `load ${++n}`
      const started = phase
      const { value, ms } = await timed(async () => await send(content))
      outcomes.push({ content, status: value.statusCode, ms, body: json(value), phase: started })
      await sleep(20)
    }
  }
  const clients = [client(), client()]
  while (outcomes.filter(o => o.status === 201).length < 10) await sleep(20)

  await stopPostgres()
  phase = 'outage'

  await t.test('while PostgreSQL is down', async t => {
    await sleep(1500) // the load keeps running into the outage
    const health = await timed(async () => await app.inject({ url: '/health' }))
    t.equal(health.value.statusCode, 503, 'readiness says unavailable')
    t.match(json(health.value), { status: 'unavailable', database: 'down' })

    const sent = await timed(async () => await send('during the outage'))
    t.equal(sent.value.statusCode, 503, 'a send is refused with 503')
    t.match(json(sent.value), { error: String, code: 'DATABASE_UNAVAILABLE' })
    t.equal(sent.value.headers['retry-after'], '5', 'with Retry-After')

    const history = await app.inject({ url: `/api/v1/rooms/${roomId}/messages`, headers: alice.auth })
    t.equal(history.statusCode, 503, 'reading history is 503 too')
    const login = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email: alice.email, password: 'correct horse battery staple' } })
    t.equal(login.statusCode, 503, 'login is 503, not a 401 or a 500')

    // Several at once: none waits on another's connection attempt.
    const burst = await Promise.all(Array.from({ length: 10 }, async (_, i) => await timed(async () => await send(`burst ${i}`))))
    t.same(burst.map(r => r.value.statusCode), Array(10).fill(503))
    t.ok(burst.every(r => r.ms < 2000), `10 concurrent sends each answered within 2 s (slowest ${Math.max(...burst.map(r => r.ms))} ms)`)

    const during = outcomes.filter(o => o.phase === 'outage')
    t.ok(during.length > 0, `the load kept sending (${during.length} sends during the outage)`)
    t.same(during.filter(o => o.status !== 503), [], 'every send of the load during the outage was 503')
    t.same(during.filter(o => typeof o.body.error !== 'string'), [], 'each with {"error"}')
    t.ok(during.every(o => o.ms < 2000), `each answered within 2 s (slowest ${Math.max(...during.map(o => o.ms))} ms): no hang`)

    t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'the process is alive (liveness does not touch the database)')
    t.same(closedDuringOutage, [], 'no socket was closed')
    t.ok(sockets.every(s => s.ws.readyState === s.ws.OPEN), 'every socket is still open')
  })

  await t.test('after PostgreSQL is back, without restarting the app', async t => {
    await startPostgres()
    phase = 'after'
    // The pool may still hold a client from before; the first queries can fail once while it is replaced.
    let health = await app.inject({ url: '/health' })
    for (let i = 0; i < 40 && health.statusCode !== 200; i++) {
      await sleep(250)
      health = await app.inject({ url: '/health' })
    }
    t.equal(health.statusCode, 200, 'ready again')
    t.match(json(health), { status: 'OK', database: 'up' })
    while (outcomes.filter(o => o.phase === 'after' && o.status === 201).length < 10) await sleep(20)
    loading = false
    await Promise.all(clients)

    const last = await send('after the outage')
    t.equal(last.statusCode, 201, 'sending works again')
    for (const socket of sockets) t.equal((await socket.message('after the outage')).payload.id, json(last).id, 'and reaches the sockets that were open throughout')
    t.same(closedDuringOutage, [], 'no socket was closed at any point')

    const acknowledged = [...outcomes.filter(o => o.status === 201), { content: 'after the outage', status: 201 }]
    t.same(outcomes.filter(o => o.status !== 201 && o.status !== 503), [], 'every send was stored (201) or refused (503)')
    const db = new pg.Client({ connectionString: databaseUrl })
    await db.connect()
    const { rows } = await db.query<{ content: string, n: number }>('SELECT content, count(*)::int AS n FROM messages GROUP BY content')
    await db.end()
    const stored = new Map(rows.map(r => [r.content, r.n]))
    t.same(acknowledged.filter(o => stored.get(o.content) !== 1).map(o => o.content), [], `every acknowledged message (${acknowledged.length}) is stored exactly once`)
    t.same(rows.filter(r => r.n > 1), [], 'nothing is stored twice')
    const refused = new Set(outcomes.filter(o => o.status === 503).map(o => o.content))
    t.same(rows.filter(r => refused.has(r.content)).map(r => r.content), [], 'nothing refused with 503 was stored')
    t.comment(`${acknowledged.length} sends acknowledged, ${refused.size} refused during the outage`)
  })
})
