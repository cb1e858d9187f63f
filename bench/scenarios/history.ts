import { type CompiledQuery, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from '../../db/database.js'
import { listMessages } from '../../db/messages.js'
import type { Context } from '../lib/context.js'
import { seedMessages, seedRoom, signToken, withClient } from '../lib/db.js'
import { load, type LoadResult } from '../lib/load.js'
import { row, type Row } from '../lib/report.js'

/**
 * The plans PostgreSQL picks for the SQL that db/messages.ts really sends (captured through
 * Kysely's log, then EXPLAINed with the same parameters).
 */
async function plans (url: string, roomId: number, before: number): Promise<{ newest: string, cursor: string }> {
  const captured: CompiledQuery[] = []
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: event => { captured.push(event.query) } })
  try {
    await listMessages(db, roomId, { limit: 50, offset: 0 })
    await listMessages(db, roomId, { limit: 50, offset: 0, before })
    const explain = async (query: CompiledQuery): Promise<string> => {
      const result = await pool.query<{ 'QUERY PLAN': string }>('EXPLAIN ' + query.sql, [...query.parameters])
      return result.rows.map(r => r['QUERY PLAN']).join('\n')
    }
    return { newest: await explain(captured[0]!), cursor: await explain(captured[1]!) }
  } finally {
    await db.destroy()
  }
}

const indexScan = (plan: string): boolean => /Index (Only )?Scan.* on messages/.test(plan) && !/Seq Scan on messages/.test(plan)

/**
 * P6: a page of 50, newest and from a `before` cursor deep in the room, with the room at 10k
 * messages (baseline) and at 1M (100k in --quick). The cursor stays the same message, so at 1M it
 * is 1M messages deep.
 */
export async function p6 (ctx: Context): Promise<Row[]> {
  const small = 10_000
  const large = ctx.quick ? 100_000 : 1_000_000
  const seconds = ctx.quick ? 2 : 5
  const warm = ctx.quick ? 1 : 2
  const server = await ctx.shared()
  const { roomId, userIds } = await seedRoom(ctx.databaseUrl, 'p6user', 1)
  const userId = userIds[0]!
  const headers = { authorization: `Bearer ${signToken(userId)}` }
  await seedMessages(ctx.databaseUrl, roomId, userId, small)
  const cursor = await withClient(ctx.databaseUrl, async c =>
    (await c.query<{ id: number }>('SELECT id FROM messages WHERE room_id = $1 ORDER BY id OFFSET 60 LIMIT 1', [roomId])).rows[0]!.id)
  const base = `${server.base}/api/v1/rooms/${roomId}/messages?limit=50`
  const measure = async (): Promise<{ newest: LoadResult, cursor: LoadResult }> => {
    for (const url of [base, `${base}&before=${cursor}`]) await load({ url, headers, connections: 10, seconds: warm })
    const newest = await load({ url: base, headers, connections: 10, seconds })
    const deep = await load({ url: `${base}&before=${cursor}`, headers, connections: 10, seconds })
    return { newest, cursor: deep }
  }
  const atSmall = await measure()
  const started = Date.now()
  await seedMessages(ctx.databaseUrl, roomId, userId, large - small)
  const seedSeconds = (Date.now() - started) / 1000
  const atLarge = await measure()
  const plan = await plans(ctx.databaseUrl, roomId, cursor)
  ctx.details.P6 = { small, large, seedSeconds, atSmall, atLarge, plan }
  ctx.log(`P6: newest ${atSmall.newest.mean.toFixed(2)} → ${atLarge.newest.mean.toFixed(2)} ms, cursor ${atSmall.cursor.mean.toFixed(2)} → ${atLarge.cursor.mean.toFixed(2)} ms (seeded ${large - small} rows in ${seedSeconds.toFixed(1)} s)`)
  const label = large >= 1_000_000 ? `${large / 1_000_000}M` : `${large / 1000}k`
  const failed = [atSmall.newest, atSmall.cursor, atLarge.newest, atLarge.cursor].reduce((n, r) => n + r.failed, 0)
  const scans = indexScan(plan.newest) && indexScan(plan.cursor)
  return [
    row('P6', `newest page mean ms, ${label} vs 10k`, 'ms', atLarge.newest.mean, atSmall.newest.mean, { on: 'ratio', op: '<=', value: 1.2 }, failed > 0 ? `${failed} failed requests` : undefined),
    row('P6', `cursor page mean ms, ${label} vs 10k`, 'ms', atLarge.cursor.mean, atSmall.cursor.mean, { on: 'ratio', op: '<=', value: 1.2 }),
    {
      scenario: 'P6',
      metric: 'EXPLAIN: index scan (newest, cursor)',
      ours: null,
      baseline: null,
      ratio: null,
      target: 'index scan',
      pass: scans,
      note: `newest: ${plan.newest.split('\n').map(l => l.trim()).filter(l => /Scan/.test(l)).join('; ')} | cursor: ${plan.cursor.split('\n').map(l => l.trim()).filter(l => /Scan/.test(l)).join('; ')}`
    }
  ]
}
