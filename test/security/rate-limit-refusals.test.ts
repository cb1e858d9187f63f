import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { adminUrl, build, freshDatabase, json, postgresReachable, signUp, testConfig } from '../helper.js'
import { craftToken, claims } from './hostile.js'

// The global limit counts the requests it refuses too (401, 400, 404), not only those that reach a
// handler; and a flood of GET /health costs the database at most one check a second.

const LIMIT = 5

/** A 429 with Retry-After and the `{"error","code"}` shape. */
function isRateLimited (t: Test, res: LightMyRequestResponse, label: string): void {
  t.equal(res.statusCode, 429, `${label}: 429`)
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `${label}: Retry-After ${String(res.headers['retry-after'])} is 1..60`)
  t.match(json(res), { error: String, code: 'RATE_LIMITED' }, `${label}: {"error","code"}`)
}

/** `LIMIT` requests answered `status`, then the next one 429. */
async function burst (t: Test, app: FastifyInstance, request: InjectOptions, status: number, label: string): Promise<void> {
  for (let i = 1; i <= LIMIT; i++) t.equal((await app.inject(request)).statusCode, status, `${label} ${i}: ${status}`)
  isRateLimited(t, await app.inject(request), `${label} ${LIMIT + 1}`)
}

t.test('refusals count against the global limit (RATE_LIMIT_GLOBAL)', async t => {
  const app = await build(t, { env: { RATE_LIMIT_GLOBAL: String(LIMIT) } })
  // Signed up from an address of its own: registering and logging in count against that address.
  const user = await signUp(app)

  t.test('a bad token: 401s, then 429 for that address', async t => {
    const remoteAddress = '192.0.2.101'
    await burst(t, app, { url: '/api/v1/rooms', remoteAddress, headers: { authorization: 'Bearer not.a.token' } }, 401, 'bad token')
    isRateLimited(t, await app.inject({ url: '/api/v1/rooms', remoteAddress }), 'no token at all, same address')
    t.equal((await app.inject({ url: '/api/v1/rooms', remoteAddress: '192.0.2.102', headers: { authorization: 'Bearer not.a.token' } })).statusCode, 401,
      'another address has its own budget')
    t.equal((await app.inject({ url: '/api/v1/rooms', remoteAddress, headers: user.auth })).statusCode, 200,
      'a valid token from the limited address counts against its user, not the address')
  })

  t.test('a token signed with another key is an anonymous request: counted by address', async t => {
    const remoteAddress = '192.0.2.103'
    const forged = craftToken({ alg: 'HS256', typ: 'JWT' }, claims(user.id), 'not-the-server-secret-but-32-characters-long')
    await burst(t, app, { url: '/api/v1/rooms', remoteAddress, headers: { authorization: `Bearer ${forged}` } }, 401, 'forged token')
    t.equal((await app.inject({ url: '/api/v1/rooms', remoteAddress: '192.0.2.104', headers: user.auth })).statusCode, 200,
      'the forged token did not spend its victim\'s budget')
  })

  t.test('unknown routes: 404s, then 429', async t => {
    await burst(t, app, { url: '/no/such/route', remoteAddress: '192.0.2.105' }, 404, 'unknown route')
  })

  t.test('refused WebSocket upgrades: 401s, then 429', async t => {
    await burst(t, app, { url: '/ws?token=not.a.token', remoteAddress: '192.0.2.106' }, 401, 'upgrade with a bad token')
  })

  t.test('a user\'s invalid requests (400) count against that user', async t => {
    const other = await signUp(app, {})
    await burst(t, app, { url: '/api/v1/users/not-a-number', remoteAddress: '192.0.2.107', headers: other.auth }, 400, 'invalid id')
    isRateLimited(t, await app.inject({ url: '/api/v1/rooms', remoteAddress: '192.0.2.108', headers: other.auth }), 'the same user, from another address')
  })

  t.test('health checks are still not limited', async t => {
    for (let i = 0; i <= LIMIT; i++) t.equal((await app.inject({ url: '/health/live', remoteAddress: '192.0.2.105' })).statusCode, 200)
  })
})

const skipPostgres = await postgresReachable() ? false : 'counts the PostgreSQL server\'s transactions'
t.test('a flood of GET /health runs at most one database check a second', { skip: skipPostgres }, async t => {
  // Counted by PostgreSQL itself: every statement outside a transaction commits one, and so does every
  // session's start. The counters are written when a session ends, so each app is closed before reading.
  const databaseUrl = await freshDatabase(t)
  const name = new URL(databaseUrl).pathname.slice(1)
  const observer = new pg.Client({ connectionString: adminUrl })
  await observer.connect()
  t.teardown(async () => { await observer.end() })
  const sessionsGone = async (): Promise<void> => {
    while ((await observer.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name])).rows[0]!.n > 0) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  const counters = async (): Promise<{ commits: number, sessions: number }> => {
    await sessionsGone()
    const { rows } = await observer.query<{ commits: number, sessions: number }>(
      'SELECT xact_commit::int AS commits, sessions::int AS sessions FROM pg_stat_database WHERE datname = $1', [name])
    return rows[0]!
  }

  const config = testConfig({ DATABASE_URL: databaseUrl })
  const migrated = buildApp(config, { logger: false })
  await migrated.ready()
  await migrated.close()

  const before = await counters()
  const app = buildApp(config, { logger: false, migrate: false })
  await app.ready()
  const answers = await Promise.all(Array.from({ length: 50 }, async () => await app.inject({ url: '/health' })))
  await app.close()
  const after = await counters()

  t.ok(answers.every(res => res.statusCode === 200 && json(res).status === 'OK'), 'all 50 answered 200 OK')
  const checks = (after.commits - before.commits) - (after.sessions - before.sessions)
  t.ok(checks >= 1, `the database was asked (${checks} statements)`)
  t.ok(checks <= 2, `50 concurrent /health ran ${checks} database checks (at most 2)`)
})
