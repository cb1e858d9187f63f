import t from 'tap'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { Database } from '../../db/database.js'
import { migrateToLatest } from '../../db/migrate.js'
import { compiledSearch, headlineOptions, type SearchCursor, type SearchFilter, searchMessages, searchQuery } from '../../db/search.js'
import { StatementCache } from '../../db/statement-cache.js'
import { parseQuery } from '../../src/chat/search.js'
import { freshDatabase } from '../helper.js'

// db/statement-cache.ts: a statement compiled once per shape, its values filled in afterwards, is
// the statement Kysely would have compiled (text and parameters), and PostgreSQL answers it alike.

t.test('a cached shape gets its values in the places Kysely puts them', async t => {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ max: 1 }) }) })
  t.teardown(async () => { await db.destroy() })
  let builds = 0
  const cache = new StatementCache((shape: { named: boolean }, v: Record<string, unknown>) => {
    builds++
    let query = db.selectFrom('users').select('id').where(sql<boolean>`id > ${v.low}`).where(sql<boolean>`id < ${v.high} or id = ${v.low}`).offset(0)
    if (shape.named) query = query.where(sql<boolean>`username = ${v.name}`)
    return query
  }, 2)
  const first = cache.compile({ named: false }, { low: 1, high: 9, name: undefined })
  const second = cache.compile({ named: false }, { low: 5, high: 7, name: undefined })
  t.equal(builds, 1, 'the shape is built once')
  t.equal(second.sql, first.sql)
  t.same(second.parameters, [5, 7, 5, 0], 'each value where it goes, twice where used twice; the constant kept')
  const named = cache.compile({ named: true }, { low: 2, high: 3, name: 'ann' })
  t.same(named.parameters, [2, 3, 2, 'ann', 0], 'the where clause before the offset')
  t.match(named.sql, /username = \$4/)
  cache.compile({ named: false }, { low: 1, high: 2, name: undefined })
  t.equal(builds, 2, 'two shapes, each built once')
  cache.compile({ named: 'x' } as unknown as { named: boolean }, { low: 1, high: 2, name: undefined })
  t.equal(builds, 3, 'a third shape')
  cache.compile({ named: false }, { low: 1, high: 2, name: undefined })
  t.equal(builds, 4, 'past `max` the oldest shape was forgotten and is built again')
})

t.test('every kind of search: the cached statement is the one searchQuery compiles, with the same rows', async t => {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: await freshDatabase(t), max: 2 }) }) })
  t.teardown(async () => { await db.destroy() })
  await migrateToLatest(db)
  const { rows: users } = await sql<{ id: number }>`insert into users (email, username, username_key, password_hash)
    values ('a@example.com', 'ann', 'ann', 'x'), ('b@example.com', 'bob', 'bob', 'x') returning id`.execute(db)
  const [ann, bob] = users.map(u => u.id).sort((a, b) => a - b) as [number, number]
  const { rows: rooms } = await sql<{ id: number }>`insert into rooms (name, created_by) values ('one', ${ann}::int), ('two', ${ann}::int) returning id`.execute(db)
  const [one, two] = rooms.map(r => r.id).sort((a, b) => a - b) as [number, number]
  await sql`insert into room_members (room_id, user_id) values (${one}::int, ${ann}::int), (${two}::int, ${ann}::int), (${one}::int, ${bob}::int)`.execute(db)
  const contents = ['the daily report is ready', 'see https://example.com/daily-report-12.pdf', 'nice cup of coffee', 'coffee, 100% arabica',
    'reports on the weather', 'nice weather for a daily walk', 'zephyrine', 'daily daily daily report']
  await sql`insert into messages (room_id, user_id, content, seq, created_at)
    select case when i % 2 = 0 then ${one}::int else ${two}::int end, case when i % 3 = 0 then ${bob}::int else ${ann}::int end, c, i,
      '2026-11-01T00:00:00Z'::timestamptz + i * interval '1 hour'
    from unnest(${contents}::text[]) with ordinality as x(c, i)`.execute(db)

  const headline = headlineOptions('[', ']')
  const queries = ['daily', 'report', 'eport-12', 'daily -walk', '"nice cup"', 'coffee or weather', 'nice -"cup of" weather', 'exampl or eather',
    '100%', 'zzz', 'daily report or coffee -arabica', 'co']
  const cursor: SearchCursor = { rank: 0.5, at: '2026-11-01T05:00:00.000000Z', id: 99 }
  const filters: Array<Omit<SearchFilter, 'viewerId' | 'language' | 'limit'>> = [
    { sort: 'relevance' }, { sort: 'recent' }, { sort: 'relevance', roomId: one }, { sort: 'recent', userId: bob },
    { sort: 'recent', from: '2026-11-01T02:00:00Z', to: '2026-11-01T07:00:00Z' }, { sort: 'relevance', after: cursor },
    { sort: 'recent', after: cursor, roomId: two, userId: ann }
  ]
  let compared = 0
  for (const q of queries) {
    for (const viewerId of [ann, bob]) {
      for (const rest of filters) {
        const filter: SearchFilter = { viewerId, language: 'english', limit: 3, ...rest }
        const terms = parseQuery(q)
        const at = `q=${q} viewer=${viewerId === ann ? 'ann' : 'bob'} ${JSON.stringify(rest)}`
        const direct = searchQuery(db, terms, filter, headline).compile()
        const cached = compiledSearch(db, terms, filter, headline)
        if (cached.sql !== direct.sql) t.fail(`${at}: the same text`, { cached: cached.sql, direct: direct.sql })
        t.same(cached.parameters, direct.parameters, `${at}: the same parameters`)
        t.same(await searchMessages(db, terms, filter, headline), await searchQuery(db, terms, filter, headline).execute(), `${at}: the same rows`)
        compared++
      }
    }
  }
  t.equal(compared, queries.length * 2 * filters.length)
  const some = await searchMessages(db, parseQuery('daily'), { viewerId: ann, language: 'english', limit: 10, sort: 'recent' }, headline)
  t.same(some.map(row => row.content), [contents[7], contents[5], contents[1], contents[0]], 'and they are the right ones')
})
