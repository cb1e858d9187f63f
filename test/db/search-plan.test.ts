import t from 'tap'
import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { Database } from '../../db/database.js'
import { migrateToLatest } from '../../db/migrate.js'
import { headlineOptions, searchQuery } from '../../db/search.js'
import { parseQuery } from '../../src/chat/search.js'
import { freshDatabase } from '../helper.js'

// Bench P12's data at 100k messages (db/search.ts `searchQuery`, step 1): a reader in 50 rooms, a
// common word in every message and a rare one in 20 of the first 10k; vacuumed and analyzed after each batch. No term may be planned
// as a Seq Scan on messages: at 10k (and in CI at 100k) the common word once was (a sort of every match instead
// of the walk newest first that stops at the bound).

const SMALL = 10_000
const MESSAGES = 100_000
const ROOMS = 50
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'november', 'oscar', 'papa']

interface PlanNode { 'Node Type': string, 'Relation Name'?: string, Plans?: PlanNode[] }
const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)]

t.test(`no term is planned as a Seq Scan on messages (${SMALL / 1000}k, then ${MESSAGES / 1000}k messages in ${ROOMS} rooms)`, async t => {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: await freshDatabase(t), max: 1 }) }) })
  t.teardown(async () => { await db.destroy() })
  await migrateToLatest(db)
  const { rows: users } = await sql<{ id: number }>`insert into users (email, username, username_key, password_hash)
    select 'plan' || g || '@example.com', 'plan' || g, 'plan' || g, 'x' from generate_series(0, 20) g returning id`.execute(db)
  const ids = users.map(u => u.id).sort((a, b) => a - b)
  const { rows: rooms } = await sql<{ id: number }>`insert into rooms (name, created_by) select 'room ' || g, ${ids[1]!}::int from generate_series(1, ${ROOMS}::int) g returning id`.execute(db)
  // Never analyzed, as in bench P12 before autovacuum gets to it: the statistics under which the
  // membership semi-join was estimated to keep 1 message in 50 (a Seq Scan at 10k; in CI at 100k).
  await sql`alter table room_members set (autovacuum_enabled = false)`.execute(db)
  await sql`insert into room_members (room_id, user_id) select r, u from unnest(${rooms.map(r => r.id)}::int[]) r cross join unnest(${ids}::int[]) u`.execute(db)
  // As bench/lib/db.ts `seedSpread` (message g in room g % 50 by author g % 20, numbered per room), one statement a batch.
  const grow = async (from: number, to: number): Promise<void> => {
    await sql`with input as (
        select g, (${rooms.map(r => r.id)}::int[])[1 + g % ${ROOMS}::int] as room_id, (${ids.slice(1)}::int[])[1 + g % 20] as user_id from generate_series(${from}::int, ${to}::int) g
      )
      insert into messages (room_id, user_id, content, seq)
      select input.room_id, user_id, (${WORDS}::text[])[1 + g % 16] || ' ' || (${WORDS}::text[])[1 + (g / 16) % 16] || ' updates on ' ||
        (${WORDS}::text[])[1 + (g / 256) % 16] || '-report-' || g || '.pdf' || case when g <= ${SMALL}::int and g % 500 = 0 then ' zephyrine' else '' end,
        r.last_seq + row_number() over (partition by input.room_id order by g) from input join rooms r on r.id = input.room_id`.execute(db)
    await sql`update rooms set last_seq = (select max(seq) from messages where room_id = rooms.id)`.execute(db)
    await sql`vacuum analyze messages`.execute(db)
  }

  for (const [from, to] of [[1, SMALL], [SMALL + 1, MESSAGES]] as const) {
    await grow(from, to)
    for (const sort of ['relevance', 'recent'] as const) {
      for (const q of ['update', 'zephyrine']) {
        const at = `${to / 1000}k, ${sort}, ${q}`
        const compiled = searchQuery(db, parseQuery(q), { viewerId: ids[0]!, language: 'english', sort, limit: 21 }, headlineOptions('a', 'b')).compile()
        const { rows } = await db.executeQuery<{ 'QUERY PLAN': unknown }>(CompiledQuery.raw(`explain (format json) ${compiled.sql}`, [...compiled.parameters]))
        const tree = rows[0]!['QUERY PLAN'] as Array<{ Plan: PlanNode }>
        const plan = JSON.stringify(tree)
        const scans = nodes(tree[0]!.Plan).filter(node => node['Relation Name'] === 'messages').map(node => node['Node Type'])
        t.ok(scans.length > 0, `${at}: messages is read (${scans.join(', ')})`)
        t.notOk(scans.includes('Seq Scan'), `${at}: no Seq Scan on messages`, { plan })
        if (q === 'update') t.match(plan, /"Index Name":"messages_live_created_at_id_idx"/, `${at}: the walk newest first`, { plan })
        else t.match(plan, /messages_search_vector_idx[\s\S]*messages_content_trgm_idx|messages_content_trgm_idx[\s\S]*messages_search_vector_idx/, `${at}: the GIN indexes`, { plan })
      }
    }
  }
})
