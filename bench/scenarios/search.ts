import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from '../../db/database.js'
import { searchQuery } from '../../db/search.js'
import { HEADLINE, parseQuery } from '../../src/chat/search.js'
import type { Context } from '../lib/context.js'
import { CpuMeter, type CpuTimes } from '../lib/cpu.js'
import { seedSpread, settle, signToken, withClient } from '../lib/db.js'
import { load, type LoadResult } from '../lib/load.js'
import { sleep } from '../lib/proc.js'
import { row, type Row } from '../lib/report.js'

const ROOMS = 50
const AUTHORS = 20
const SMALL = 10_000
/** The rare word is in this many messages at every size; the common one in every message. */
const RARE_COUNT = 20
const RARE = 'zephyrine'
const COMMON = 'update'
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'november', 'oscar', 'papa']
const CONNECTIONS = 10
/**
 * Each side's warm-up before a term's turns, ours and the bare pool's alike. At 1 s, perf showed
 * the server still compiling (TurboFan) and running baseline code through the rare word's turns.
 */
const WARM_SECONDS = 4
/** The endpoint's default page. */
const PAGE = 20

interface Seeded { readerId: number, authors: number[], rooms: number[] }

export async function seed (url: string): Promise<Seeded> {
  return await withClient(url, async c => {
    const users = await c.query<{ id: number }>(
      `INSERT INTO users (email, username, username_key, password_hash)
       SELECT 'p12user' || g || '@bench.invalid', 'p12user' || g, 'p12user' || g, '$2b$04$' || repeat('x', 53)
       FROM generate_series(0, $1::int) g RETURNING id`, [AUTHORS])
    const ids = users.rows.map(r => r.id).sort((a, b) => a - b)
    const rooms = await c.query<{ id: number }>('INSERT INTO rooms (name, created_by) SELECT \'p12 room \' || g, $1 FROM generate_series(1, $2::int) g RETURNING id', [ids[1], ROOMS])
    const roomIds = rooms.rows.map(r => r.id).sort((a, b) => a - b)
    await c.query('INSERT INTO room_members (room_id, user_id) SELECT r, u FROM unnest($1::int[]) r CROSS JOIN unnest($2::int[]) u', [roomIds, ids])
    return { readerId: ids[0]!, authors: ids.slice(1), rooms: roomIds }
  })
}

/** `count` more messages (ordinary words, the common one in each), spread over the rooms and authors; the rare word goes into RARE_COUNT of the first batch. */
export async function grow (url: string, seeded: Seeded, count: number, first: boolean): Promise<void> {
  await seedSpread(url, {
    rooms: seeded.rooms,
    authors: seeded.authors,
    count,
    content: `($4::text[])[1 + g % 16] || ' ' || ($4::text[])[1 + (g / 16) % 16] || ' ${COMMON}s on ' || ($4::text[])[1 + (g / 256) % 16] || '-report-' || g || '.pdf' ||
      CASE WHEN $5 AND g % ($1 / ${RARE_COUNT}) = 0 THEN ' ${RARE}' ELSE '' END`,
    params: [WORDS, first]
  })
}

interface Compiled { sql: string, parameters: unknown[] }

/** What the endpoint runs for `q` (the first page, relevance order): the search statement, which reads the page's reactions and attachments too. */
function statement (db: Kysely<Database>, readerId: number, q: string): Compiled {
  const { sql, parameters } = searchQuery(db, parseQuery(q), { viewerId: readerId, language: 'english', sort: 'relevance', limit: PAGE + 1 }, HEADLINE).compile()
  return { sql, parameters: [...parameters] }
}

/** The bare baseline: the same statement from a plain pg pool (of CONNECTIONS), CONNECTIONS at a time, for `seconds`: statements run and their mean ms. */
async function bare (pool: pg.Pool, query: Compiled, seconds: number): Promise<{ ok: number, mean: number }> {
  const latencies: number[] = []
  const end = Date.now() + seconds * 1000
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (Date.now() < end) {
      const started = performance.now()
      await pool.query(query.sql, query.parameters)
      latencies.push(performance.now() - started)
    }
  }))
  return { ok: latencies.length, mean: latencies.reduce((a, b) => a + b, 0) / latencies.length }
}

/** Our two turns as one run: rates and means over both, percentiles the worse turn's (they do not add up). */
function bothTurns (a: LoadResult, b: LoadResult): LoadResult {
  const ok = a.ok + b.ok
  const weighted = (x: number, y: number): number => (x * a.ok + y * b.ok) / Math.max(1, ok)
  return {
    rps: ok / (a.seconds + b.seconds),
    mean: weighted(a.mean, b.mean),
    p50: Math.max(a.p50, b.p50),
    p99: Math.max(a.p99, b.p99),
    ok,
    failed: a.failed + b.failed,
    seconds: a.seconds + b.seconds
  }
}

interface Measured {
  ours: LoadResult
  bare: { rps: number, mean: number }
  /** CPU per request (ms) over each side's turns: `bench` is the load generator for ours, the pg client for the bare pool. */
  cpu: { ours: CpuTimes, bare: CpuTimes }
  plan: string
}

async function plan (url: string, query: Compiled): Promise<string> {
  return await withClient(url, async c => {
    const result = await c.query<{ 'QUERY PLAN': string }>('EXPLAIN ' + query.sql, query.parameters)
    return result.rows.map(r => r['QUERY PLAN']).join('\n')
  })
}

/**
 * P12: `GET /api/v1/search/messages` for a user in 50 rooms, a rare word and a common one, at 10k
 * and at 1M messages (100k in --quick): our endpoint's throughput against the same statement (the
 * search, with the page's reactions and attachments) run by a bare pg pool; the plan (GIN indexes or
 * the walk index, no Seq Scan on messages); the rare word at 1M against 10k.
 */
export async function p12 (ctx: Context): Promise<Row[]> {
  const large = ctx.quick ? 100_000 : 1_000_000
  const seconds = ctx.quick ? 2 : 5
  const server = await ctx.shared()
  const seeded = await seed(ctx.databaseUrl)
  const headers = { authorization: `Bearer ${signToken(seeded.readerId)}` }
  const pool = new pg.Pool({ connectionString: ctx.databaseUrl, max: 1 })
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  const url = (q: string): string => `${server.base}/api/v1/search/messages?q=${encodeURIComponent(q)}`

  /** Our endpoint answers `q` (retried while the server still sheds load after the seeding), then WARM_SECONDS of warm-up. */
  const warm = async (q: string): Promise<void> => {
    let first = await fetch(url(q), { headers })
    for (let i = 0; i < 20 && first.status === 503; i++) {
      await sleep(500)
      first = await fetch(url(q), { headers })
    }
    if (first.status !== 200) throw new Error(`GET ${url(q)} answered ${first.status}: ${await first.text()}`)
    await load({ url: url(q), headers, connections: CONNECTIONS, seconds: WARM_SECONDS })
  }
  /**
   * Our endpoint and the bare pool in turn, ours – bare – bare – ours, each half of `seconds` a
   * turn: a machine that speeds up or slows down during the measurement (other jobs, the
   * checkpointer) weighs on both sides alike. Each side's figures are over its two turns.
   */
  const measure = async (q: string): Promise<Measured> => {
    const query = statement(db, seeded.readerId, q)
    await warm(q)
    const half = seconds / 2
    const pool = new pg.Pool({ connectionString: ctx.databaseUrl, max: CONNECTIONS })
    try {
      await bare(pool, query, WARM_SECONDS)
      const oursCpu = new CpuMeter(server.pid)
      const bareCpu = new CpuMeter()
      const ourTurn = async (): Promise<LoadResult> => await oursCpu.time(async () => await load({ url: url(q), headers, connections: CONNECTIONS, seconds: half }))
      const bareTurn = async (): Promise<{ ok: number, mean: number }> => await bareCpu.time(async () => await bare(pool, query, half))
      const ours1 = await ourTurn()
      const bare1 = await bareTurn()
      const bare2 = await bareTurn()
      const ours2 = await ourTurn()
      const bareOk = bare1.ok + bare2.ok
      return {
        ours: bothTurns(ours1, ours2),
        bare: { rps: bareOk / seconds, mean: (bare1.mean * bare1.ok + bare2.mean * bare2.ok) / Math.max(1, bareOk) },
        cpu: { ours: oursCpu.perRequest(), bare: bareCpu.perRequest() },
        plan: await plan(ctx.databaseUrl, query)
      }
    } finally {
      await pool.end()
    }
  }

  try {
    await grow(ctx.databaseUrl, seeded, SMALL, true)
    await settle(ctx.databaseUrl)
    const rareSmall = await measure(RARE)
    await grow(ctx.databaseUrl, seeded, large - SMALL, false)
    await settle(ctx.databaseUrl)
    const rare = await measure(RARE)
    const common = await measure(COMMON)
    const piece = await measure('eport-12')
    ctx.details.P12 = { large, rareSmall, rare, common, piece }
    const label = large >= 1_000_000 ? `${large / 1_000_000}M` : `${large / 1000}k`
    ctx.log(`P12: rare ${rareSmall.ours.mean.toFixed(1)} → ${rare.ours.mean.toFixed(1)} ms; common ${common.ours.mean.toFixed(1)} ms; piece ${piece.ours.mean.toFixed(1)} ms`)
    const planNote = (p: string): string => {
      const used = ['messages_search_vector_idx', 'messages_content_trgm_idx', 'messages_live_created_at_id_idx'].filter(name => p.includes(name))
      return `${p.includes('Seq Scan on messages') ? 'Seq Scan on messages!' : 'no Seq Scan on messages'}; indexes: ${used.join(', ') || 'none'}`
    }
    // Where a request's CPU goes: the sides differ by the server (and its load generator against the
    // pg client), while the statement costs PostgreSQL about the same on both.
    const cpuNote = (m: Measured): string => {
      const { ours, bare } = m.cpu
      return `; CPU per request: ours ${ours.machine.toFixed(2)} ms (server ${ours.server.toFixed(2)}, PostgreSQL ${ours.postgres.toFixed(2)}, load generator ${ours.bench.toFixed(2)}), ` +
        `bare ${bare.machine.toFixed(2)} ms (PostgreSQL ${bare.postgres.toFixed(2)}, pg client ${bare.bench.toFixed(2)})` +
        (m.ours.failed > 0 ? `; ${m.ours.failed} failed requests` : '')
    }
    return [
      row('P12', `search "${RARE}" (rare) at ${label}: req/s vs the bare SQL`, 'req/s', rare.ours.rps, rare.bare.rps, { on: 'ratio', op: '>=', value: 0.7 }, planNote(rare.plan) + cpuNote(rare)),
      row('P12', `search "${COMMON}" (in every message) at ${label}: req/s vs the bare SQL`, 'req/s', common.ours.rps, common.bare.rps, { on: 'ratio', op: '>=', value: 0.7 }, planNote(common.plan) + cpuNote(common)),
      row('P12', `search "eport-12" (a piece of file names) at ${label}: req/s vs the bare SQL`, 'req/s', piece.ours.rps, piece.bare.rps, { on: 'ratio', op: '>=', value: 0.7 }, planNote(piece.plan) + cpuNote(piece)),
      row('P12', `search "${RARE}" mean ms, ${label} vs 10k messages`, 'ms', rare.ours.mean, rareSmall.ours.mean, { on: 'ratio', op: '<=', value: 2 }, `the word is in ${RARE_COUNT} messages at both sizes`)
    ]
  } finally {
    await db.destroy()
  }
}
