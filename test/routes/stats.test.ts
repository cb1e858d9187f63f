import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import pg from 'pg'
import t, { type Test } from 'tap'
import { connectDatabase } from '../../db/connect.js'
import { migrator } from '../../db/migrate.js'
import { ROLLUP_LOCK_KEY } from '../../db/rollup.js'
import { markSeen } from '../../db/stats.js'
import { rollUp } from '../../src/chat/rollup.js'
import { build, createRoom, freshDatabase, joinRoom, json, postgresReachable, redisUrl, sendAs, type Session, signUp } from '../helper.js'
import { listen, TestSocket, twoInstances } from '../ws-client.js'

// Analytics (CONTRACT.md Part 2, "Analytics"): GET /admin/stats, GET /admin/users/{id}/activity,
// GET /users/me/stats, users' last_seen_at, and the rollup that keeps the message counts.

/** The background job stays off: every test rolls up by calling `rollUp` (or through a stats request). */
const quiet = { ROLLUP_INTERVAL_MS: '0' }

const DAY_MS = 86_400_000
/** The UTC midnight that starts today, `days` days from now (negative: before). */
function midnight (days = 0): Date {
  const now = new Date()
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + days * DAY_MS)
}
const dateOf = (d: Date): string => d.toISOString().slice(0, 10)

/** Messages written straight into the table at `at`, numbered after the room's last seq (as a send would be). */
async function insertAt (app: FastifyInstance, roomId: number, userId: number, at: Date, count = 1): Promise<void> {
  await sql`WITH r AS (UPDATE rooms SET last_seq = last_seq + ${count} WHERE id = ${roomId} RETURNING last_seq - ${count} AS base)
    INSERT INTO messages (room_id, user_id, content, seq, created_at)
    SELECT ${roomId}, ${userId}, 'at ' || g, r.base + g, ${at.toISOString()}::timestamptz FROM r, generate_series(1, ${count}::int) g`.execute(app.db)
}

async function makeAdmin (app: FastifyInstance, user: Session): Promise<void> {
  await sql`update users set role = 'admin' where id = ${user.id}`.execute(app.db)
}

const get = async (app: FastifyInstance, url: string, user?: Session): Promise<{ statusCode: number, body: any }> => {
  const response = await app.inject({ method: 'GET', url, headers: user?.auth })
  return { statusCode: response.statusCode, body: json(response) }
}

const byDate = (daily: Array<{ date: string }>): Map<string, any> => new Map(daily.map(d => [d.date, d]))

/** Until `check` gives true (a fire-and-forget write has landed), at most 5 s. */
async function eventually (check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return false
}

async function lastSeen (app: FastifyInstance, userId: number): Promise<Date | null> {
  const { rows } = await sql<{ last_seen_at: Date | null }>`select last_seen_at from users where id = ${userId}`.execute(app.db)
  return rows[0]!.last_seen_at
}

/** What both engines must answer alike: the counts against the rows written, UTC days, deletes, gaps in the calendar. */
async function countsMatchTheRows (t: Test, app: FastifyInstance): Promise<void> {
  const admin = await signUp(app)
  await makeAdmin(app, admin)
  const alice = await signUp(app)
  const bob = await signUp(app)
  // Bob's account is from yesterday: a new user of yesterday's row.
  await sql`update users set created_at = ${new Date(midnight(-1).getTime() + 3_600_000).toISOString()}::timestamptz where id = ${bob.id}`.execute(app.db)
  const general = await createRoom(app, alice, 'general')
  const still = await createRoom(app, bob, 'quiet')
  await joinRoom(app, bob, general)

  // Around midnight UTC: 2 in the last millisecond of yesterday, 3 in the first moments of today.
  await insertAt(app, general, alice.id, new Date(midnight().getTime() - 1), 2)
  await insertAt(app, general, bob.id, midnight(), 3)
  // Around another midnight, 10 days back: one on each side.
  await insertAt(app, still, bob.id, new Date(midnight(-9).getTime() - 1))
  await insertAt(app, still, bob.id, midnight(-9))
  // Before the 30 days: in the total, in no daily row shown.
  await insertAt(app, still, bob.id, midnight(-40), 4)
  // Two live sends today; one is then deleted (a delete does not take a send back).
  const sent = await sendAs(app, alice, general, 'hello')
  await sendAs(app, alice, general, 'again')
  const deleted = await app.inject({ method: 'DELETE', url: `/api/v1/messages/${sent.id}`, headers: alice.auth })
  t.equal(deleted.statusCode, 204, 'deleted')

  const stats = await get(app, '/api/v1/admin/stats', admin)
  t.equal(stats.statusCode, 200)
  const body = stats.body
  t.same(body.messages, { total: 2 + 3 + 1 + 1 + 4 + 2, today: 3 + 2 }, 'messages: every one sent, the deleted one included; today by the UTC day')
  t.match(body.users, { total: 3, disabled: 0 })
  t.same(body.rooms, { total: 2, private: 0, direct: 0 })
  t.equal(body.daily.length, 30, '30 days')
  t.equal(body.daily[0].date, dateOf(midnight(-29)), 'oldest first')
  t.equal(body.daily[29].date, dateOf(midnight()), 'today last')
  const days = byDate(body.daily)
  t.match(days.get(dateOf(midnight())), { messages: 5, new_users: 2 }, 'today: 3 after midnight + 2 sends; admin and alice joined today')
  t.match(days.get(dateOf(midnight(-1))), { messages: 2, new_users: 1 }, 'yesterday: the 2 before midnight; bob')
  t.match(days.get(dateOf(midnight(-9))), { messages: 1 }, 'the first moment of a day')
  t.match(days.get(dateOf(midnight(-10))), { messages: 1 }, 'the last moment of the day before')
  t.same(days.get(dateOf(midnight(-5))), { date: dateOf(midnight(-5)), new_users: 0, messages: 0, active_users: 0 }, 'a day with nothing is there, with zeros')
  t.equal(body.daily.reduce((sum: number, d: { messages: number }) => sum + d.messages, 0), 9, 'the 4 of 40 days ago are in no row shown')
  t.same(body.busiest_rooms, [{ room_id: general, name: 'general', messages_week: 7 }], 'the week\'s busiest rooms: "quiet" had nothing in the last 7 days')

  const mine = await get(app, '/api/v1/users/me/stats', alice)
  t.equal(mine.statusCode, 200)
  t.match(mine.body, { user_id: alice.id, messages_sent: 4, rooms: 1 }, 'alice: 2 inserted, 2 sent (one deleted); one room')
  t.type(mine.body.last_seen_at, 'string', 'she has been seen')
  t.match(byDate(mine.body.daily).get(dateOf(midnight(-1))), { messages: 2 })
  t.match(byDate(mine.body.daily).get(dateOf(midnight())), { messages: 2 })
  const bobs = await get(app, `/api/v1/admin/users/${bob.id}/activity`, admin)
  t.equal(bobs.statusCode, 200)
  t.match(bobs.body, { user_id: bob.id, messages_sent: 3 + 1 + 1 + 4, rooms: 2 })
  t.equal(bobs.body.daily.length, 30)
  t.equal(bobs.body.daily.reduce((sum: number, d: { messages: number }) => sum + d.messages, 0), 5, 'bob\'s 30 days: 3 + 1 + 1')

  // Nothing new: a second reading is the same (no row counted twice).
  const again = await get(app, '/api/v1/admin/stats', admin)
  t.same(again.body.messages, body.messages, 'read again: the same')
  t.same((await rollUp(app.db)), { ran: true, messages: 0, users: 0 }, 'a run with nothing new adds nothing')

  // Many runs at once: only new rows, each counted once.
  await insertAt(app, general, alice.id, new Date(), 25)
  const runs = await Promise.all([rollUp(app.db), rollUp(app.db), rollUp(app.db), rollUp(app.db)])
  t.equal(runs.reduce((sum, run) => sum + (run.ran ? run.messages : 0), 0), 25, 'four runs at once counted the 25 new messages once')
  t.equal((await get(app, '/api/v1/admin/stats', admin)).body.messages.total, 13 + 25)
}

t.test('the numbers are the rows the test wrote: UTC days, days with nothing, deletes', async t => {
  const app = await build(t, { env: quiet })
  await countsMatchTheRows(t, app)
})

t.test('site admins only: 403 ADMIN_ONLY for others, 404 USER_NOT_FOUND, 401 without a token', async t => {
  const app = await build(t, { env: quiet })
  const admin = await signUp(app)
  await makeAdmin(app, admin)
  const user = await signUp(app)
  t.match(await get(app, '/api/v1/admin/stats', user), { statusCode: 403, body: { code: 'ADMIN_ONLY' } })
  t.match(await get(app, `/api/v1/admin/users/${user.id}/activity`, user), { statusCode: 403, body: { code: 'ADMIN_ONLY' } })
  t.match(await get(app, `/api/v1/admin/users/${admin.id}/activity`, user), { statusCode: 403, body: { code: 'ADMIN_ONLY' } }, 'not even about an admin')
  t.match(await get(app, '/api/v1/admin/users/2000000000/activity', admin), { statusCode: 404, body: { code: 'USER_NOT_FOUND' } })
  t.match(await get(app, `/api/v1/admin/users/${user.id}/activity`, admin), { statusCode: 200, body: { user_id: user.id, messages_sent: 0, rooms: 0 } })
  t.equal((await get(app, '/api/v1/admin/stats')).statusCode, 401)
  t.equal((await get(app, '/api/v1/users/me/stats')).statusCode, 401)
  t.equal((await get(app, '/api/v1/users/me/stats', user)).statusCode, 200, 'anyone may read their own')
})

t.test('the rollup lock: a run while another holds it returns at once and counts nothing', async t => {
  if (!await postgresReachable()) return
  const databaseUrl = await freshDatabase(t)
  const app = await build(t, { env: quiet, databaseUrl })
  const alice = await signUp(app)
  const room = await createRoom(app, alice, 'locks')
  await insertAt(app, room, alice.id, new Date(), 3)
  const other = new pg.Client({ connectionString: databaseUrl })
  await other.connect()
  t.teardown(async () => { await other.end() })

  // Another instance's run, holding the lock in its transaction.
  await other.query('begin')
  await other.query('select pg_advisory_xact_lock($1::bigint)', [ROLLUP_LOCK_KEY])
  t.same(await rollUp(app.db), { ran: false }, 'the lock is held elsewhere: this run returns at once')
  await other.query('commit')
  t.same(await rollUp(app.db), { ran: true, messages: 3, users: 1 }, 'once it is free: the 3 messages, the 1 user')
})

t.test('a send still in flight when the watermark passes its id is counted once it commits', async t => {
  if (!await postgresReachable()) return
  const databaseUrl = await freshDatabase(t)
  const app = await build(t, { env: quiet, databaseUrl })
  const alice = await signUp(app)
  const slowRoom = await createRoom(app, alice, 'slow')
  const fastRoom = await createRoom(app, alice, 'fast')
  await rollUp(app.db)
  const other = new pg.Client({ connectionString: databaseUrl })
  await other.connect()
  t.teardown(async () => { await other.end() })

  await other.query('begin')
  await other.query('update rooms set last_seq = last_seq + 1 where id = $1', [slowRoom])
  const slow = await other.query<{ id: number }>("insert into messages (room_id, user_id, content, seq) select $1, $2, 'slow', last_seq from rooms where id = $1 returning id", [slowRoom, alice.id])
  const fast = await sendAs(app, alice, fastRoom, 'fast')
  t.ok(fast.id > slow.rows[0]!.id, 'the committed send has the higher id')
  t.match(await rollUp(app.db), { ran: true, messages: 1 }, 'the watermark moves past both; only the committed one is counted')
  await other.query('commit')
  t.match(await rollUp(app.db), { ran: true, messages: 1 }, 'the next run finds the one that was in flight')
  t.match(await rollUp(app.db), { ran: true, messages: 0 }, 'and never again')
  const admin = await signUp(app)
  await makeAdmin(app, admin)
  t.equal((await get(app, '/api/v1/admin/stats', admin)).body.messages.total, 2)
})

t.test('last_seen_at: written on an authenticated request at most once a minute; the day\'s active users', async t => {
  const app = await build(t, { env: quiet })
  const admin = await signUp(app)
  await makeAdmin(app, admin)
  const alice = await signUp(app)
  t.equal(await lastSeen(app, alice.id), null, 'registering and logging in are not authenticated requests')

  t.equal((await get(app, '/api/v1/users/me', alice)).statusCode, 200)
  t.ok(await eventually(async () => await lastSeen(app, alice.id) !== null), 'seen on her first authenticated request')
  const first = (await lastSeen(app, alice.id))!
  t.ok(Math.abs(first.getTime() - Date.now()) < 60_000, 'now')

  // Set back: within the minute this instance does not write again.
  await sql`update users set last_seen_at = '2000-01-01T00:00:00Z' where id = ${alice.id}`.execute(app.db)
  for (let i = 0; i < 5; i++) await get(app, '/api/v1/users/me', alice)
  await new Promise(resolve => setTimeout(resolve, 200))
  t.same(await lastSeen(app, alice.id), new Date('2000-01-01T00:00:00Z'), 'five more requests within the minute: no write')

  // The statement itself leaves a value younger than a minute alone (another instance's write).
  const recent = new Date(Date.now() - 30_000)
  await sql`update users set last_seen_at = ${recent.toISOString()}::timestamptz where id = ${alice.id}`.execute(app.db)
  await markSeen(app.db, alice.id)
  t.same(await lastSeen(app, alice.id), recent, 'seen 30 s ago: unchanged')
  await sql`update users set last_seen_at = now() - interval '2 minutes' where id = ${alice.id}`.execute(app.db)
  await markSeen(app.db, alice.id)
  t.ok(Date.now() - (await lastSeen(app, alice.id))!.getTime() < 10_000, 'seen 2 minutes ago: now')

  // Active users: alice and the admin today, each counted once however often seen.
  await markSeen(app.db, alice.id)
  const stats = await get(app, '/api/v1/admin/stats', admin)
  t.match(stats.body.users, { total: 2, active_day: 2, active_week: 2, active_month: 2 })
  t.equal(byDate(stats.body.daily).get(dateOf(midnight())).active_users, 2, 'today\'s active users: each once')
  await sql`update users set last_seen_at = now() - interval '3 days' where id = ${alice.id}`.execute(app.db)
  t.match((await get(app, '/api/v1/admin/stats', admin)).body.users, { active_day: 1, active_week: 2, active_month: 2 }, 'seen 3 days ago: active this week, not today')
})

t.test('a socket opening counts as being seen', async t => {
  const app = await build(t, { env: quiet })
  const alice = await signUp(app)
  const url = await listen(app)
  await TestSocket.as(t, url, alice)
  t.ok(await eventually(async () => await lastSeen(app, alice.id) !== null), 'seen')
})

t.test('sockets_connected counts the sockets of every instance', async t => {
  if (!await postgresReachable()) return
  const { a, b, urlA, urlB } = await twoInstances(t, redisUrl)
  const admin = await signUp(a)
  await makeAdmin(a, admin)
  const alice = await signUp(b)
  const sockets = async (app: FastifyInstance): Promise<number> => (await get(app, '/api/v1/admin/stats', admin)).body.sockets_connected
  t.equal(await sockets(a), 0, 'none yet')
  await TestSocket.as(t, urlA, alice)
  const onB = await TestSocket.as(t, urlB, alice)
  await TestSocket.as(t, urlB, admin)
  t.ok(await eventually(async () => await sockets(a) === 3), 'one on A and two on B: 3, asked of A')
  t.equal(await sockets(b), 3, 'and of B')
  onB.ws.close()
  await onB.closed
  t.ok(await eventually(async () => await sockets(a) === 2), 'one closed: 2')
})

t.test('on the embedded engine', async t => {
  const app = await build(t, { engine: 'embedded', env: quiet })
  t.equal(app.dbEngine, 'embedded')
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(1) as locked`.execute(app.db)
  t.equal(rows[0]!.locked, true, 'advisory locks exist in PGlite')
  await countsMatchTheRows(t, app)
})

t.test('migration 0013 goes down and up again', async t => {
  if (!await postgresReachable()) return
  const { db } = await connectDatabase({ databaseUrl: await freshDatabase(t), dataDir: 'memory://' })
  t.teardown(async () => { await db.destroy() })
  t.error((await migrator(db).migrateToLatest()).error)
  // Down to the migration before it (later ones go down first).
  const down = await migrator(db).migrateTo('0012_search')
  t.error(down.error)
  t.match(down.results?.find(r => r.migrationName === '0013_analytics'), { direction: 'Down', status: 'Success' }, '0013 went down')
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from information_schema.columns where table_name = 'users' and column_name = 'last_seen_at'`.execute(db)
  t.equal(rows[0]!.n, 0, 'last_seen_at is gone')
  t.error((await migrator(db).migrateToLatest()).error, 'and up again')
})

t.test('the job rolls up on its own every ROLLUP_INTERVAL_MS, and stops when the app closes', async t => {
  const app = await build(t, { env: { ROLLUP_INTERVAL_MS: '100' } })
  const alice = await signUp(app)
  const room = await createRoom(app, alice, 'job')
  await insertAt(app, room, alice.id, new Date(), 7)
  const counted = async (): Promise<number> => {
    const { rows } = await sql<{ n: number }>`select coalesce(sum(messages), 0)::int as n from daily_stats`.execute(app.db)
    return rows[0]!.n
  }
  t.ok(await eventually(async () => await counted() === 7), 'the 7 messages were rolled up with no request asking')
  const { rows } = await sql<{ last: string }>`select last_message_id::text as last from rollup_state`.execute(app.db)
  t.ok(Number(rows[0]!.last) > 0, 'the watermark moved')
})
