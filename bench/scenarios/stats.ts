import type { Context } from '../lib/context.js'
import { seedSpread, settle, signToken, withClient } from '../lib/db.js'
import { load, type LoadResult } from '../lib/load.js'
import { sleep } from '../lib/proc.js'
import { row, type Row } from '../lib/report.js'

const ROOMS = 50
const AUTHORS = 20
/** Messages are spread over this many days back, so the daily rows are the same at both sizes. */
const DAYS = 30
const SMALL = 10_000

interface Seeded { adminId: number, authors: number[], rooms: number[] }

async function seed (url: string): Promise<Seeded> {
  return await withClient(url, async c => {
    const users = await c.query<{ id: number }>(
      `INSERT INTO users (email, username, username_key, password_hash, role)
       SELECT 'p13user' || g || '@bench.invalid', 'p13user' || g, 'p13user' || g, '$2b$04$' || repeat('x', 53), CASE WHEN g = 0 THEN 'admin' ELSE 'user' END
       FROM generate_series(0, $1::int) g RETURNING id`, [AUTHORS])
    const ids = users.rows.map(r => r.id).sort((a, b) => a - b)
    const rooms = await c.query<{ id: number }>(
      'INSERT INTO rooms (name, created_by) SELECT \'p13 room \' || g, $1 FROM generate_series(1, $2::int) g RETURNING id', [ids[1], ROOMS])
    const roomIds = rooms.rows.map(r => r.id).sort((a, b) => a - b)
    await c.query('INSERT INTO room_members (room_id, user_id) SELECT r, u FROM unnest($1::int[]) r CROSS JOIN unnest($2::int[]) u', [roomIds, ids.slice(1)])
    return { adminId: ids[0]!, authors: ids.slice(1), rooms: roomIds }
  })
}

/** `count` messages over the rooms, authors and the last DAYS days, numbered after each room's last seq. */
async function grow (url: string, seeded: Seeded, count: number): Promise<void> {
  await seedSpread(url, {
    rooms: seeded.rooms, authors: seeded.authors, count, content: "'stats message number ' || g", createdAt: `now() - (g % ${DAYS * 24}) * interval '1 hour'`
  })
}

/**
 * P13: `GET /api/v1/admin/stats` with 10k messages (baseline) and 1M (100k in --quick): its
 * numbers come from the daily rollup rows, so its cost must not follow the history.
 */
export async function p13 (ctx: Context): Promise<Row[]> {
  const large = ctx.quick ? 100_000 : 1_000_000
  const seconds = ctx.quick ? 2 : 5
  const server = await ctx.shared()
  const seeded = await seed(ctx.databaseUrl)
  const headers = { authorization: `Bearer ${signToken(seeded.adminId)}` }
  const url = `${server.base}/api/v1/admin/stats`

  const measure = async (): Promise<{ result: LoadResult, total: number }> => {
    let first = await fetch(url, { headers })
    // A server just started on a busy machine may shed load for a moment (503 OVERLOADED): wait it out.
    for (let i = 0; i < 20 && first.status === 503; i++) {
      await sleep(500)
      first = await fetch(url, { headers })
    }
    if (first.status !== 200) throw new Error(`GET ${url} answered ${first.status}: ${await first.text()}`)
    const total = (await first.json() as { messages: { total: number } }).messages.total
    await load({ url, headers, connections: 10, seconds: 1 })
    return { result: await load({ url, headers, connections: 10, seconds }), total }
  }

  // Other scenarios share the database: what they seeded is counted too, so the check is against it.
  await settle(ctx.databaseUrl)
  const before = await fetch(url, { headers }).then(async r => r.ok ? (await r.json() as { messages: { total: number } }).messages.total : 0)
  await grow(ctx.databaseUrl, seeded, SMALL)
  await settle(ctx.databaseUrl)
  const small = await measure()
  const started = Date.now()
  await grow(ctx.databaseUrl, seeded, large - SMALL)
  const seedSeconds = (Date.now() - started) / 1000
  const rollupStarted = Date.now()
  await settle(ctx.databaseUrl)
  const rollupSeconds = (Date.now() - rollupStarted) / 1000
  const big = await measure()

  ctx.details.P13 = { small: SMALL, large, seedSeconds, rollupSeconds, atSmall: small, atLarge: big }
  ctx.log(`P13: ${small.result.mean.toFixed(2)} → ${big.result.mean.toFixed(2)} ms (totals ${small.total} and ${big.total}; rolled up ${large - SMALL} in ${rollupSeconds.toFixed(1)} s)`)
  const label = large >= 1_000_000 ? `${large / 1_000_000}M` : `${large / 1000}k`
  const failed = small.result.failed + big.result.failed
  const right = small.total === before + SMALL && big.total === before + large
  return [row('P13', `admin stats mean ms, ${label} vs 10k messages`, 'ms', big.result.mean, small.result.mean, { on: 'ratio', op: '<=', value: 1.2 },
    `messages.total ${small.total} and ${big.total} (${before} from other scenarios)${right ? '' : ' (NOT the rows seeded)'}; rolling up the ${large - SMALL} new rows took ${rollupSeconds.toFixed(1)} s (this call, or the server's job if it got there first)` +
    (failed > 0 ? `; ${failed} failed requests` : ''))]
}
