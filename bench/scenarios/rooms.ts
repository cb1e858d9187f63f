import { type CompiledQuery, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from '../../db/database.js'
import { myRooms } from '../../src/chat/read-state.js'
import type { Context } from '../lib/context.js'
import { signToken, withClient } from '../lib/db.js'
import { best, load, type LoadResult } from '../lib/load.js'
import { sleep } from '../lib/proc.js'
import { row, type Row } from '../lib/report.js'

/** The reader's rooms, and rooms they are not in (their messages count in the total, not in the listing). */
const MY_ROOMS = 200
const OTHER_ROOMS = 50
const ROOMS = MY_ROOMS + OTHER_ROOMS
/** Authors besides the reader, members of every room. */
const AUTHORS = 10
/** Messages per room at the small size: 40 × 250 = 10,000 in all. */
const SMALL_PER_ROOM = 40
/** The unread tail of the reader's room i: the last `i * 7 % 41` seqs (0..40, 20 on average), the same at every size. */
const UNREAD_SQL = '(rank * 7) % 41'
/** The reader wrote every 10th message, every 20th (seq ≡ 5) is deleted; both depend on seq alone, so the tails match at every size. */
const AUTHOR_SQL = `CASE WHEN m.member AND s % 10 = 0 THEN $2::int ELSE $3::int + (s % ${AUTHORS}) END`

interface Seeded { readerId: number, roomIds: number[] }

async function seed (url: string): Promise<Seeded> {
  return await withClient(url, async c => {
    const users = await c.query<{ id: number }>(
      `INSERT INTO users (email, username, username_key, password_hash)
       SELECT 'p9user' || g || '@bench.invalid', 'p9user' || g, 'p9user' || g, '$2b$04$' || repeat('x', 53) FROM generate_series(0, $1::int) g
       RETURNING id`, [AUTHORS])
    const ids = users.rows.map(r => r.id).sort((a, b) => a - b)
    const readerId = ids[0]!
    const authors = ids.slice(1)
    // Most recent activity first is room rank 1; ranks 1..200 are the reader's, interleaved with the others by activity.
    const rooms = await c.query<{ id: number }>(
      `INSERT INTO rooms (name, created_by, last_activity_at)
       SELECT 'p9 room ' || g, $1, now() - g * interval '1 minute' FROM generate_series(1, $2::int) g ORDER BY g RETURNING id`, [authors[0], ROOMS])
    const roomIds = rooms.rows.map(r => r.id).sort((a, b) => a - b)
    // Every 5th room (rank ≡ 0 mod 5) is not the reader's: 50 of 250.
    await c.query(`CREATE TABLE p9_rooms AS
      SELECT id, row_number() OVER (ORDER BY id) AS ord, (row_number() OVER (ORDER BY id)) % 5 <> 0 AS member FROM rooms WHERE id = ANY($1::int[])`, [roomIds])
    await c.query('ALTER TABLE p9_rooms ADD COLUMN rank int')
    await c.query('UPDATE p9_rooms p SET rank = r.rank FROM (SELECT id, row_number() OVER (ORDER BY ord) AS rank FROM p9_rooms WHERE member) r WHERE r.id = p.id')
    await c.query(`INSERT INTO room_members (room_id, user_id, role)
      SELECT p.id, a, CASE WHEN a = $2 THEN 'owner' ELSE 'member' END FROM p9_rooms p CROSS JOIN unnest($1::int[]) a`, [authors, authors[0]])
    await c.query('INSERT INTO room_members (room_id, user_id) SELECT id, $1 FROM p9_rooms WHERE member', [readerId])
    return { readerId, roomIds: roomIds.filter((_, i) => (i + 1) % 5 !== 0) }
  })
}

/**
 * Appends `perRoom` messages to every room (gap-free after its `last_seq`), the rooms interleaved
 * in the heap as live traffic would be, then moves the reader's markers so each room keeps the
 * same unread tail, and VACUUM ANALYZE (index-only scans need the visibility map).
 */
async function grow (url: string, readerId: number, perRoom: number): Promise<void> {
  await withClient(url, async c => {
    // The authors' ids follow the reader's (one INSERT, one sequence).
    const firstAuthor = readerId + 1
    await c.query('BEGIN')
    await c.query(`INSERT INTO messages (room_id, user_id, content, seq, created_at, deleted_at)
      SELECT m.id, ${AUTHOR_SQL},
        CASE WHEN s % 20 = 5 THEN '' ELSE 'feed message number ' || s || ', long enough to look like a real one' END,
        s, now() - (m.base + $1::int - g) * interval '1 second', CASE WHEN s % 20 = 5 THEN now() END
      FROM generate_series(1, $1::int) g
      CROSS JOIN (SELECT p.id, p.member, r.last_seq AS base FROM p9_rooms p JOIN rooms r ON r.id = p.id) m
      CROSS JOIN LATERAL (SELECT m.base + g AS s) x
      ORDER BY g, m.id`, [perRoom, readerId, firstAuthor])
    await c.query('UPDATE rooms SET last_seq = last_seq + $1 WHERE id IN (SELECT id FROM p9_rooms)', [perRoom])
    await c.query(`UPDATE room_members rm SET last_read_seq = r.last_seq - ${UNREAD_SQL}
      FROM p9_rooms p JOIN rooms r ON r.id = p.id WHERE rm.room_id = p.id AND rm.user_id = $1`, [readerId])
    await c.query('COMMIT')
    await c.query('VACUUM ANALYZE messages')
    await c.query('VACUUM ANALYZE room_members')
    await c.query('VACUUM ANALYZE rooms')
  })
}

interface Plan { sql: string, plan: string, ms: number, buffers: number }

/** Pages the statement touched (its top node's shared buffers hit + read): unlike its time, the same from one run to the next. */
const buffersOf = (plan: string): number => {
  const line = /Buffers: shared([^\n]*)/.exec(plan)?.[1] ?? ''
  return Number(/hit=(\d+)/.exec(line)?.[1] ?? 0) + Number(/read=(\d+)/.exec(line)?.[1] ?? 0)
}

/**
 * Every query `GET /users/me/rooms` sends for a page (src/chat/read-state.ts `myRooms`, through
 * Kysely's log), then `EXPLAIN (ANALYZE, BUFFERS)` of each with the same parameters.
 */
async function plans (url: string, userId: number, offset: number): Promise<Plan[]> {
  const captured: CompiledQuery[] = []
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: event => { captured.push(event.query) } })
  try {
    await myRooms({ db }, userId, { limit: 100, offset })
    const out: Plan[] = []
    for (const query of captured) {
      const result = await pool.query<{ 'QUERY PLAN': string }>('EXPLAIN (ANALYZE, BUFFERS) ' + query.sql, [...query.parameters])
      const plan = result.rows.map(r => r['QUERY PLAN']).join('\n')
      out.push({ sql: query.sql, plan, ms: Number(/Execution Time: ([\d.]+)/.exec(plan)?.[1] ?? NaN), buffers: buffersOf(plan) })
    }
    return out
  } finally {
    await db.destroy()
  }
}

const seqScanOnMessages = (plans: Plan[]): boolean => plans.some(p => /Seq Scan on messages/.test(p.plan))
/** The plan's scan nodes on messages, one line each, with their loops. */
const scans = (plan: string): string => [...new Set(plan.split('\n').map(l => l.trim().replace(/^->\s*/, ''))
  .filter(l => /Scan.* on messages/.test(l)).map(l => l.replace(/\s*\(cost=[^)]*\)/, '').replace(/\(actual time=[\d.]+\.\.[\d.]+ /, '(')))].join('; ')

interface Page { rooms: number, unread: number, withLast: number }

async function fetchPage (url: string, headers: Record<string, string>): Promise<Page> {
  let res = await fetch(url, { headers })
  // A server just started on a busy machine may shed load for a moment (503 OVERLOADED): wait it out.
  for (let i = 0; i < 20 && res.status === 503; i++) {
    await sleep(500)
    res = await fetch(url, { headers })
  }
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`)
  const body = await res.json() as Array<{ unread_count: number, last_message: unknown }>
  return { rooms: body.length, unread: body.reduce((n, r) => n + r.unread_count, 0), withLast: body.filter(r => r.last_message !== null).length }
}

/**
 * P9: `GET /api/v1/users/me/rooms` for a user in 200 rooms (both pages of 100: the route's
 * largest page), with 10k messages in all (baseline) and 1M (100k in --quick), each of the
 * reader's rooms 0–40 unread at both sizes. See bench/README.md.
 */
export async function p9 (ctx: Context): Promise<Row[]> {
  const large = ctx.quick ? 100_000 : 1_000_000
  const seconds = ctx.quick ? 2 : 5
  const warm = ctx.quick ? 1 : 2
  const server = await ctx.shared()
  const { readerId } = await seed(ctx.databaseUrl)
  await grow(ctx.databaseUrl, readerId, SMALL_PER_ROOM)
  const headers = { authorization: `Bearer ${signToken(readerId)}` }
  const base = `${server.base}/api/v1/users/me/rooms?limit=100`
  const pages = [base, `${base}&offset=100`]

  // Each page is measured in `rounds` rounds and its best (least disturbed) round kept, as P1 and P2 do.
  const rounds = ctx.quick ? 1 : 3
  const measure = async (): Promise<{ first: LoadResult, second: LoadResult, check: Page[] }> => {
    // What the seeding left dirty is written out now, not by the checkpointer while we measure.
    await withClient(ctx.databaseUrl, async c => { await c.query('CHECKPOINT') })
    const check = [await fetchPage(pages[0]!, headers), await fetchPage(pages[1]!, headers)]
    for (const url of pages) await load({ url, headers, connections: 10, seconds: warm })
    const pageOne: LoadResult[] = []
    const pageTwo: LoadResult[] = []
    for (let i = 0; i < rounds; i++) {
      pageOne.push(await load({ url: pages[0]!, headers, connections: 10, seconds }))
      pageTwo.push(await load({ url: pages[1]!, headers, connections: 10, seconds }))
    }
    return { first: best(pageOne), second: best(pageTwo), check }
  }
  const atSmall = await measure()
  const plansSmall = [...await plans(ctx.databaseUrl, readerId, 0), ...await plans(ctx.databaseUrl, readerId, 100)]
  const started = Date.now()
  await grow(ctx.databaseUrl, readerId, large / ROOMS - SMALL_PER_ROOM)
  const seedSeconds = (Date.now() - started) / 1000
  const atLarge = await measure()
  const plansLarge = [...await plans(ctx.databaseUrl, readerId, 0), ...await plans(ctx.databaseUrl, readerId, 100)]

  // One request at a time, as it is (0–40 unread), then with everything unread (markers at 0): the
  // count then reads each room's whole history, by design.
  const sequential = async (n: number, url = pages[0]!): Promise<{ ms: number[], unread: number }> => {
    const ms: number[] = []
    let unread = 0
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      unread = (await fetchPage(url, headers)).unread
      ms.push(performance.now() - t0)
    }
    return { ms, unread }
  }
  const sequentialRounds = ctx.quick ? 5 : 20
  const oneAtATime = await sequential(sequentialRounds)
  await withClient(ctx.databaseUrl, async c => { await c.query('UPDATE room_members SET last_read_seq = 0 WHERE user_id = $1', [readerId]) })
  const everything = await sequential(sequentialRounds)
  const everythingSecond = await sequential(sequentialRounds, pages[1])
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const total = await withClient(ctx.databaseUrl, async c => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM messages')).rows[0]!.n))

  ctx.details.P9 = { rooms: { mine: MY_ROOMS, others: OTHER_ROOMS }, small: SMALL_PER_ROOM * ROOMS, large, totalMessages: total, seedSeconds, atSmall, atLarge, plansSmall, plansLarge, oneAtATime, allUnread: everything, allUnreadSecond: everythingSecond }
  ctx.log(`P9: page 1 ${atSmall.first.mean.toFixed(2)} → ${atLarge.first.mean.toFixed(2)} ms, page 2 ${atSmall.second.mean.toFixed(2)} → ${atLarge.second.mean.toFixed(2)} ms (seeded ${large - SMALL_PER_ROOM * ROOMS} rows in ${seedSeconds.toFixed(1)} s); one at a time ${median(oneAtATime.ms).toFixed(1)} ms, all unread ${median(everything.ms).toFixed(1)} ms`)

  const label = large >= 1_000_000 ? `${large / 1_000_000}M` : `${large / 1000}k`
  const failed = [atSmall.first, atSmall.second, atLarge.first, atLarge.second].reduce((n, r) => n + r.failed, 0)
  const [s1, s2] = atSmall.check
  const [l1, l2] = atLarge.check
  const consistent = s1!.rooms === 100 && s2!.rooms === 100 && s1!.unread === l1!.unread && s2!.unread === l2!.unread
  const checkNote = `${s1!.rooms}+${s2!.rooms} rooms, unread ${s1!.unread}+${s2!.unread} at 10k, ${l1!.unread}+${l2!.unread} at ${label}` +
    (consistent ? '' : ' (NOT the same read state at both sizes)') + (failed > 0 ? `; ${failed} failed requests` : '')
  const route = plansLarge[0]!
  const second = plansLarge.find((p, i) => i > 0 && p.sql === route.sql)!
  const clean = !seqScanOnMessages(plansLarge)
  return [
    row('P9', `my rooms page 1 (limit=100) mean ms, ${label} vs 10k`, 'ms', atLarge.first.mean, atSmall.first.mean, { on: 'ratio', op: '<=', value: 1.2 }, checkNote),
    row('P9', `my rooms page 2 (offset=100) mean ms, ${label} vs 10k`, 'ms', atLarge.second.mean, atSmall.second.mean, { on: 'ratio', op: '<=', value: 1.2 },
      `best of ${rounds} rounds of ${seconds} s at each size; page 1 one request at a time at ${label}, median of ${sequentialRounds}: ${median(oneAtATime.ms).toFixed(1)} ms as seeded (${oneAtATime.unread} unread), ` +
      `${median(everything.ms).toFixed(1)} ms with everything unread (${everything.unread}; page 2: ${median(everythingSecond.ms).toFixed(1)} ms, ${everythingSecond.unread})`),
    {
      scenario: 'P9',
      metric: `EXPLAIN (ANALYZE, BUFFERS) at ${label}: no Seq Scan on messages; buffers, ${label} vs 10k`,
      ours: route.buffers,
      baseline: plansSmall[0]!.buffers,
      ratio: plansSmall[0]!.buffers > 0 ? route.buffers / plansSmall[0]!.buffers : null,
      target: 'no Seq Scan on messages',
      pass: clean,
      note: `roomsOfMember page 1 shared buffers (page 2: ${second.buffers} at ${label}), ` +
        `execution ${route.ms.toFixed(2)} ms at ${label}, ${plansSmall[0]!.ms.toFixed(2)} ms at 10k; ${plansLarge.length / 2} queries per page, ` +
        `${seqScanOnMessages(plansSmall) ? 'a Seq Scan on messages at 10k' : 'none at 10k either'} | page 1: ${scans(route.plan)} | ` +
        `page 2: ${second.ms.toFixed(2)} ms, ${scans(second.plan)}`
    }
  ]
}
