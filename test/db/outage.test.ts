// A database outage: the API answers 503 quickly (never hangs, never dies), and the same process
// recovers once PostgreSQL is back, without losing anything it acknowledged. Runs on a throwaway
// PostgreSQL cluster of its own: the shared server on 5432 is never stopped.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { checkResponsesAgainstOpenApi, freePort, json, signUp, testConfig } from '../helper.js'

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

const noBinaries = existsSync(join(PG_BIN, 'pg_ctl')) || process.env.REQUIRE_SERVICES === '1' ? false : `no PostgreSQL binaries in ${PG_BIN}`

t.test('a database outage answers 503 at once, and the same process recovers', { skip: noBinaries }, async t => {
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
  const startPostgres = async (): Promise<void> => {
    await pgTool('pg_ctl', ['-D', data, '-o', `-p ${port} -k ${base} -c listen_addresses=127.0.0.1`, '-l', join(base, 'log'), '-w', 'start'])
  }
  const stopPostgres = async (): Promise<void> => { await pgTool('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']) }
  await startPostgres()

  const app: FastifyInstance = buildApp(testConfig({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres` }), { logger: false })
  // Every response, the 503s included, must be one openapi.yaml describes.
  checkResponsesAgainstOpenApi(t, app)
  await app.ready()

  const alice = await signUp(app)
  const room = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: alice.auth, payload: { name: 'outage' } })
  t.equal(room.statusCode, 201)
  const roomId = json(room).id as number
  const send = async (content: string) => await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: roomId, content } })
  const acknowledged: number[] = []
  for (let i = 1; i <= 3; i++) {
    const res = await send(`before the outage ${i}`)
    t.equal(res.statusCode, 201)
    acknowledged.push(json(res).id)
  }

  await stopPostgres()

  t.test('while PostgreSQL is down', async t => {
    const health = await timed(async () => await app.inject({ url: '/health' }))
    t.equal(health.value.statusCode, 503, 'readiness says unavailable')
    t.match(json(health.value), { status: 'unavailable', database: 'down' })
    t.comment(`GET /health answered 503 in ${health.ms} ms`)

    const sent = await timed(async () => await send('during the outage'))
    t.equal(sent.value.statusCode, 503, 'a send is refused with 503')
    t.match(json(sent.value), { error: String, code: 'DATABASE_UNAVAILABLE' })
    t.equal(sent.value.headers['retry-after'], '5', 'with Retry-After')
    t.ok(sent.ms < 3000, `POST /api/v1/messages answered within 3 s (${sent.ms} ms): no hang`)
    t.comment(`POST /api/v1/messages answered 503 in ${sent.ms} ms`)

    const history = await timed(async () => await app.inject({ url: `/api/v1/rooms/${roomId}/messages`, headers: alice.auth }))
    t.equal(history.value.statusCode, 503, 'reading history is 503 too')
    t.ok(history.ms < 3000, `history answered within 3 s (${history.ms} ms)`)
    const login = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email: alice.email, password: 'correct horse battery staple' } })
    t.equal(login.statusCode, 503, 'login is 503, not a 401 or a 500')

    // Several at once: none waits on another's connection attempt.
    const burst = await timed(async () => await Promise.all(Array.from({ length: 10 }, async (_, i) => await send(`burst ${i}`))))
    t.same(burst.value.map(r => r.statusCode), Array(10).fill(503))
    t.ok(burst.ms < 3000, `10 concurrent sends all answered within 3 s (${burst.ms} ms)`)

    const live = await app.inject({ url: '/health/live' })
    t.equal(live.statusCode, 200, 'the process is alive (liveness does not touch the database)')
  })

  t.test('after PostgreSQL is back, without restarting the app', async t => {
    await startPostgres()
    // The pool may still hold a client from before; the first queries can fail once while it is replaced.
    let health = await app.inject({ url: '/health' })
    for (let i = 0; i < 20 && health.statusCode !== 200; i++) {
      await new Promise(resolve => setTimeout(resolve, 250))
      health = await app.inject({ url: '/health' })
    }
    t.equal(health.statusCode, 200, 'ready again')
    t.match(json(health), { status: 'OK', database: 'up' })

    const res = await send('after the outage')
    t.equal(res.statusCode, 201, 'sending works again')
    const history = await app.inject({ url: `/api/v1/rooms/${roomId}/messages`, headers: alice.auth })
    t.equal(history.statusCode, 200)
    const messages = json(history) as Array<{ id: number, content: string }>
    t.same(messages.map(m => m.id), [...acknowledged, json(res).id], 'every acknowledged message is there, and nothing refused')
    t.same(messages.map(m => m.content), ['before the outage 1', 'before the outage 2', 'before the outage 3', 'after the outage'])
  })
})
