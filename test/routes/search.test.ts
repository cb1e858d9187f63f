import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { CompiledQuery, sql } from 'kysely'
import { listRoomsQuery } from '../../db/rooms.js'
import { readFile } from 'node:fs/promises'
import { headlineOptions, RANKED_MAX, searchQuery } from '../../db/search.js'
import { listUsersQuery } from '../../db/users.js'
import { checkSearchLanguage, escapeHtml, markHeadline, markPieces, parseQuery } from '../../src/chat/search.js'
import { build, createRoom, type Engine, fixtureUser, joinRoom, sendAs, type Session } from '../helper.js'

// Search (CONTRACT.md Part 2, "Search"): word forms and pieces inside words, URLs and file
// names; web-search syntax; only the rooms the caller is a member of at the time of the search,
// never a deleted message, an edit found by its new text at once; highlights safe as HTML; a
// cursor that pages without repeats.

// Two tables of 20k-40k rows and 530 ranked candidates: 100-140 s on a busy 2-core machine (tap's 120 s was too little).
t.setTimeout(300_000)

interface Result { message: { id: number, room_id: number, user_id: number | null, content: string, reactions: unknown[] }, highlight: string }
interface Page { results: Result[], next_cursor: string | null }

async function search (app: FastifyInstance, user: Session, params: Record<string, string | number>): Promise<{ statusCode: number, body: any }> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString()
  const response = await app.inject({ method: 'GET', url: `/api/v1/search/messages?${query}`, headers: user.auth })
  return { statusCode: response.statusCode, body: response.json() }
}

async function found (app: FastifyInstance, user: Session, params: Record<string, string | number>): Promise<string[]> {
  const answer = await search(app, user, params)
  if (answer.statusCode !== 200) throw new Error(`search ${JSON.stringify(params)}: ${answer.statusCode} ${JSON.stringify(answer.body)}`)
  return (answer.body as Page).results.map(r => r.message.content)
}

async function world (t: Test, engine: Engine = 'postgres'): Promise<{ app: FastifyInstance, alice: Session, bob: Session, room: number }> {
  const app = await build(t, { engine })
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const room = await createRoom(app, alice, 'general')
  await joinRoom(app, bob, room)
  return { app, alice, bob, room }
}

/** What the language features find: each query with the messages it must return, in any order. */
async function languageCases (t: Test, engine: Engine): Promise<void> {
  const { app, alice, room } = await world(t, engine)
  const messages = [
    'Two meetings tomorrow', // 0
    'the quarterly-report.pdf is ready', // 1
    'see https://example.com/x for details', // 2
    'a nice cup of coffee', // 3
    'nice weather, no coffee', // 4
    'tea or coffee?', // 5
    'Nothing relevant here' // 6
  ]
  for (const content of messages) await sendAs(app, alice, room, content)
  const cases: Array<[string, number[]]> = [
    ['meeting', [0]], // stemming
    ['report', [1]], // a piece of a file name
    ['quarterly-report.pdf', [1]],
    ['exampl', [2]], // a piece of a URL
    ['example.com', [2]],
    ['"nice cup"', [3]], // a phrase
    ['"cup nice"', []],
    ['tea or meetings', [0, 5]], // or
    ['coffee -nice', [5]], // exclusion
    ['nice coffee', [3, 4]], // every word
    ['weather', [4]],
    ['zzzunknown', []]
  ]
  for (const [q, expected] of cases) {
    t.same((await found(app, alice, { q })).sort(), expected.map(i => messages[i]!).sort(), `q=${q}`)
  }
  await sendAs(app, alice, room, 'a 1000 rows import')
  t.same(await found(app, alice, { q: '100%' }), [], '% in q is literal')
  t.same(await found(app, alice, { q: '1_00' }), [], '_ in q is literal')
  t.same(await found(app, alice, { q: 'ly-rep' }), [messages[1]], 'a piece-only match with a hyphen is highlighted too')
  // Pages of one, by relevance: every coffee once.
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page = (await search(app, alice, { q: 'coffee', limit: 1, ...(cursor === null ? {} : { cursor }) })).body as Page
    seen.push(...page.results.map(r => r.message.content))
    cursor = page.next_cursor
  } while (cursor !== null && seen.length < 10)
  t.same(seen.sort(), [messages[3], messages[4], messages[5]].sort(), 'paged one by one, no repeats')
}

t.test('word forms, pieces, phrases, or, exclusions', async t => { await languageCases(t, 'postgres') })
t.test('the same on the embedded engine', async t => { await languageCases(t, 'embedded') })

t.test('ranked by relevance then newest; sort=recent is newest first', async t => {
  const { app, alice, room } = await world(t)
  await sendAs(app, alice, room, 'budget') // strongest match: every word is it
  await sendAs(app, alice, room, 'we talked about many things, among them the budget, and lunch plans for friday')
  await sendAs(app, alice, room, 'budget budget review')
  await sendAs(app, alice, room, 'the budgetary committee') // a piece only: rank 0, last
  const relevance = await found(app, alice, { q: 'budget' })
  t.equal(relevance.at(-1), 'the budgetary committee', 'a piece-only match comes after every word match')
  t.equal(relevance[0], 'budget budget review', 'the densest match first')
  t.same(await found(app, alice, { q: 'budget', sort: 'recent' }),
    ['the budgetary committee', 'budget budget review', 'we talked about many things, among them the budget, and lunch plans for friday', 'budget'], 'newest first')
})

t.test('only the rooms the caller is a member of now; never deleted messages', async t => {
  const { app, alice, bob, room } = await world(t)
  const carol = await fixtureUser(app)
  const other = await createRoom(app, carol, 'elsewhere')
  await sendAs(app, carol, other, 'secret pineapple plans')
  const hidden = (await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: carol.auth, payload: { name: 'hidden', is_private: true } })).json<{ id: number }>().id
  await sendAs(app, carol, hidden, 'private pineapple plans')
  await sendAs(app, alice, room, 'public pineapple plans')
  t.same(await found(app, alice, { q: 'pineapple' }), ['public pineapple plans'], 'a room never joined and a private room are not searched')
  t.same((await found(app, carol, { q: 'pineapple' })).sort(), ['private pineapple plans', 'secret pineapple plans'], 'their own rooms only')

  t.equal((await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/leave`, headers: bob.auth })).statusCode, 204)
  t.same(await found(app, bob, { q: 'pineapple' }), [], 'a member who left finds nothing there')
  await joinRoom(app, bob, room)
  t.same(await found(app, bob, { q: 'pineapple' }), ['public pineapple plans'], 'back in: found again')
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/rooms/${room}/members/${bob.id}`, headers: alice.auth })).statusCode, 204)
  t.same(await found(app, bob, { q: 'pineapple' }), [], 'a kicked member finds nothing there')

  const doomed = await sendAs(app, alice, room, 'pineapple to delete')
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/messages/${doomed.id}`, headers: alice.auth })).statusCode, 204)
  t.same(await found(app, alice, { q: 'pineapple' }), ['public pineapple plans'], 'a deleted message is never found')
  t.same(await found(app, alice, { q: 'delete' }), [], 'not by a piece either')

  t.match(await search(app, alice, { q: 'pineapple', room_id: hidden }), { statusCode: 404, body: { code: 'ROOM_NOT_FOUND' } }, 'room_id of a private room: 404')
  t.match(await search(app, alice, { q: 'pineapple', room_id: other }), { statusCode: 403, body: { code: 'NOT_A_MEMBER' } }, 'room_id of a public room: 403')
  t.match(await search(app, alice, { q: 'pineapple', room_id: 2147483647 }), { statusCode: 404, body: { code: 'ROOM_NOT_FOUND' } }, 'no such room: 404')
})

t.test('an edit is found by its new text as soon as it has answered', async t => {
  const { app, alice, room } = await world(t)
  const sent = await sendAs(app, alice, room, 'first draft of the invitation')
  t.same(await found(app, alice, { q: 'draft' }), ['first draft of the invitation'])
  const edited = await app.inject({ method: 'PATCH', url: `/api/v1/messages/${sent.id}`, headers: alice.auth, payload: { content: 'final wording of the invitations' } })
  t.equal(edited.statusCode, 200)
  t.same(await found(app, alice, { q: 'draft' }), [], 'the old text is gone')
  t.same(await found(app, alice, { q: 'invitation' }), ['final wording of the invitations'], 'the new text, at once')
  t.same(await found(app, alice, { q: 'wording' }), ['final wording of the invitations'])
})

t.test('highlight: the matches in <mark>, every other character escaped', async t => {
  const { app, alice, room } = await world(t)
  const hostile = [
    '<script>alert("report")</script>',
    'Tom & Jerry\'s "report" <b>now</b>',
    'a literal <mark>report</mark> in the text',
    'the quarterly-report.pdf <img src=x onerror=alert(1)>'
  ]
  for (const content of hostile) await sendAs(app, alice, room, content)
  const answer = await search(app, alice, { q: 'report', sort: 'recent' })
  t.equal(answer.statusCode, 200)
  const results = (answer.body as Page).results
  t.equal(results.length, 4)
  for (const { message, highlight } of results) {
    const withoutMarks = highlight.replaceAll('<mark>', '').replaceAll('</mark>', '')
    t.notMatch(withoutMarks, /[<>"']/, `nothing but the marks is markup: ${highlight}`)
    t.match(highlight, /<mark>report<\/mark>|<mark>quarterly-report\.pdf<\/mark>|<mark>[^<]*report[^<]*<\/mark>/, `the match is marked: ${highlight}`)
    t.equal(withoutMarks.replace(/&(amp|lt|gt|quot|#39);/g, m => ({ '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" })[m]!), message.content,
      'unescaped, it is the content')
  }
  const literal = results.find(r => r.message.content.startsWith('a literal'))!
  t.match(literal.highlight, /&lt;mark&gt;/, 'a literal <mark> in the content is escaped')

  // A piece-only match is marked by the search itself.
  await sendAs(app, alice, room, 'ping me at https://intranet.example.com/<x>')
  const piece = (await search(app, alice, { q: 'ntranet', sort: 'recent' })).body as Page
  t.equal(piece.results[0]!.highlight, 'ping me at https://i<mark>ntranet</mark>.example.com/&lt;x&gt;')
})

t.test('highlight helpers', async t => {
  t.equal(escapeHtml('<a href="x">&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;')
  t.equal(markHeadline('S1 <b> S2 & S1x S2', 'S1', 'S2'), '<mark> &lt;b&gt; </mark> &amp; <mark>x </mark>')
  t.equal(markPieces('see q3-report.pdf (final) [v2] a+b $5 ^_^ x|y', ['3-rep', '(final)', '[v2]', 'a+b', '$5', '^_^', 'x|y']),
    'see q<mark>3-rep</mark>ort.pdf <mark>(final)</mark> <mark>[v2]</mark> <mark>a+b</mark> <mark>$5</mark> <mark>^_^</mark> <mark>x|y</mark>', 'pieces with regular-expression characters are literal')
  t.equal(markPieces('abc REPORT def report', ['report']), 'abc <mark>REPORT</mark> def <mark>report</mark>', 'case-insensitive, every occurrence')
  const long = `${'x '.repeat(300)}needle${' y'.repeat(300)}`
  const passage = markPieces(long, ['needle'])
  t.ok(passage.startsWith('…') && passage.endsWith('…') && passage.includes('<mark>needle</mark>'), 'a long message: the passage around the match')
  t.ok(passage.length < 400)
  t.same(parseQuery('"a phrase" or -word xy report'), { q: '"a phrase" or -word xy report', groups: [['a phrase'], ['report']], excluded: [{ text: 'word', piece: true }] })
})

/** Follows `next_cursor` from the first page (at most `maxPages`): every page's status and results, and how many pages it took. */
async function pageThrough (t: Test, app: FastifyInstance, user: Session, params: Record<string, string | number>, maxPages: number): Promise<{ results: Page['results'], pages: number }> {
  const results: Page['results'] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const answer = await search(app, user, { ...params, ...(cursor === null ? {} : { cursor }) })
    t.equal(answer.statusCode, 200)
    const page = answer.body as Page
    results.push(...page.results)
    cursor = page.next_cursor
    pages++
  } while (cursor !== null && pages < maxPages)
  return { results, pages }
}

t.test('paging with the cursor: every result once, in order', async t => {
  const { app, alice, room } = await world(t)
  // Same rank for many (identical texts), and created in one statement (equal created_at): the id breaks ties.
  await sql`with r as (update rooms set last_seq = last_seq + 45 where id = ${room} returning last_seq - 45 as base)
    insert into messages (room_id, user_id, content, seq)
    select ${room}, ${alice.id}, case when g % 3 = 0 then 'paging paging test ' || g else 'paging test ' || g end, r.base + g from r, generate_series(1, 45) g`.execute(app.db)
  for (const sort of ['relevance', 'recent']) {
    const { results, pages } = await pageThrough(t, app, alice, { q: 'paging', sort, limit: 10 }, 10)
    const seen = results.map(r => r.message.id)
    t.equal(pages, 5, `${sort}: 45 results in 5 pages of 10`)
    t.equal(seen.length, 45, `${sort}: 45 results`)
    t.equal(new Set(seen).size, 45, `${sort}: no repeats`)
    const all = ((await search(app, alice, { q: 'paging', sort, limit: 50 })).body as Page).results.map(r => r.message.id)
    t.same(seen, all, `${sort}: the pages are the one list, in its order`)
  }
  const bad = await search(app, alice, { q: 'paging', cursor: 'not-a-cursor' })
  t.match(bad, { statusCode: 400, body: { code: 'INVALID_CURSOR' } })
  const first = (await search(app, alice, { q: 'paging', limit: 10 })).body as Page
  t.match(await search(app, alice, { q: 'paging', sort: 'recent', cursor: first.next_cursor! }), { statusCode: 400, body: { code: 'INVALID_CURSOR' } }, 'a relevance cursor for sort=recent')
  for (const forged of [[1, 'x', 1], ['2026-01-01T00:00:00.000000Z', 1], [0.1, '2026-01-01T00:00:00.000000Z', -1], { a: 1 }]) {
    t.match(await search(app, alice, { q: 'paging', cursor: Buffer.from(JSON.stringify(forged)).toString('base64url') }),
      { statusCode: 400, body: { code: 'INVALID_CURSOR' } }, `forged ${JSON.stringify(forged)}`)
  }
})

t.test(`relevance ranks the newest ${RANKED_MAX} matches; sort=recent pages through all of them`, async t => {
  const { app, alice, room } = await world(t)
  const total = RANKED_MAX + 30
  // The oldest 30 are the densest matches: relevance would put them first if it ranked them.
  await sql`with r as (update rooms set last_seq = last_seq + ${total} where id = ${room} returning last_seq - ${total} as base)
    insert into messages (room_id, user_id, content, seq, created_at)
    select ${room}, ${alice.id}, case when g <= 30 then 'bounded bounded bounded ' || g else 'a bounded search, message ' || g end, r.base + g,
      now() - (${total} - g) * interval '1 second' from r, generate_series(1, ${total}) g`.execute(app.db)
  const all = async (sort: string): Promise<string[]> =>
    (await pageThrough(t, app, alice, { q: 'bounded', sort, limit: 50 }, 20)).results.map(r => r.message.content)
  const ranked = await all('relevance')
  t.equal(ranked.length, RANKED_MAX, `relevance: ${RANKED_MAX} results`)
  t.equal(new Set(ranked).size, RANKED_MAX, 'no repeats')
  t.notOk(ranked.some(content => content.startsWith('bounded bounded')), 'the older matches are not ranked, however dense')
  const recent = await all('recent')
  t.equal(recent.length, total, 'sort=recent: every match')
  t.equal(recent.at(-1), 'bounded bounded bounded 1', 'the oldest last')

  const documented = `newest ${RANKED_MAX} matches`
  const text = async (file: string): Promise<string> => (await readFile(new URL(`../../${file}`, import.meta.url), 'utf8')).replace(/\s+/g, ' ')
  t.match(await text('README.md'), documented, 'README says how many are ranked')
  t.match(await text('openapi.yaml'), documented, 'so does the OpenAPI description')
})

t.test('filters: room_id, user_id, from/to', async t => {
  const { app, alice, bob, room } = await world(t)
  const second = await createRoom(app, alice, 'second')
  await joinRoom(app, bob, second)
  await sendAs(app, alice, room, 'alpha from alice')
  await sendAs(app, bob, room, 'alpha from bob')
  await sendAs(app, bob, second, 'alpha in second')
  t.same((await found(app, alice, { q: 'alpha', room_id: second })), ['alpha in second'])
  t.same((await found(app, alice, { q: 'alpha', user_id: bob.id })).sort(), ['alpha from bob', 'alpha in second'])
  t.same((await found(app, alice, { q: 'alpha', user_id: bob.id, room_id: room })), ['alpha from bob'])
  await sql`update messages set created_at = '2025-06-01T12:00:00Z' where content = 'alpha from alice'`.execute(app.db)
  t.same(await found(app, alice, { q: 'alpha', to: '2025-06-01T12:00:00Z' }), [], 'to is exclusive')
  t.same(await found(app, alice, { q: 'alpha', from: '2025-06-01T12:00:00Z', to: '2025-06-02T00:00:00Z' }), ['alpha from alice'], 'from is inclusive')
  t.same((await found(app, alice, { q: 'alpha', from: '2026-01-01T00:00:00Z' })).length, 2)
  const message = (await search(app, alice, { q: 'alpha', room_id: second })).body.results[0].message
  t.match(message, { room_id: second, user_id: bob.id, reactions: [], attachments: [], username: bob.username }, 'a full Message')
})

t.test('bad input: 400', async t => {
  const { app, alice } = await world(t)
  const bad: Array<Record<string, string | number>> = [
    { q: '' }, { q: 'x'.repeat(201) }, { q: '   ' }, { q: '-only -exclusions' }, { q: 'a', limit: 0 }, { q: 'a', limit: 51 },
    { q: 'a', sort: 'oldest' }, { q: 'a', from: 'yesterday' }, { q: 'a', room_id: 0 }, { q: 'a', user_id: 'x' }, { q: 'a\u0000b' }
  ]
  for (const params of bad) t.equal((await search(app, alice, params)).statusCode, 400, JSON.stringify(params))
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/search/messages', headers: alice.auth })).statusCode, 400, 'no q')
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/search/messages?q=x' })).statusCode, 401, 'no token')
  t.equal((await search(app, alice, { q: 'x'.repeat(200) })).statusCode, 200, '200 characters is fine')
})

t.test('SEARCH_LANGUAGE is checked against the database at start-up', async t => {
  const { app } = await world(t)
  await t.rejects(checkSearchLanguage(app.db, 'klingon'), /SEARCH_LANGUAGE must name a text search configuration of the database.*"klingon"/)
  t.equal(await checkSearchLanguage(app.db, 'english'), undefined, 'the stored words\' language: no warning')
  t.match(await checkSearchLanguage(app.db, 'german'), /SEARCH_LANGUAGE=german but stored messages are indexed with "english"/, 'another: a warning')
})

t.test('GET /users?q=, GET /rooms?q= and the search are served by their indexes (20k rows each, vacuumed and analyzed)', async t => {
  const { app, alice, room } = await world(t)
  const elsewhere = await createRoom(app, await fixtureUser(app), 'elsewhere')
  // Text like real text for a trigram index: letters and digits in any order (hex digits alone, as
  // in md5 sums, make so few distinct trigrams that a scan is cheaper, and the planner knows it).
  const letters = (seed: ReturnType<typeof sql>, length: number, alphabet = 36): ReturnType<typeof sql> =>
    sql`(select string_agg(substr('abcdefghijklmnopqrstuvwxyz0123456789', get_byte(decode(md5(${seed} || '-' || i), 'hex'), 0) % ${sql.lit(alphabet)} + 1, 1), '')
      from generate_series(1, ${sql.lit(length)}) i)`
  // Seeded 4,000 rows a statement: 20k rows of md5-made text in one took more than the 10 s
  // statement timeout when the machine was busy (the test is about plans, not seeding speed).
  const chunks = Array.from({ length: 5 }, (_, i) => [i * 4000 + 1, (i + 1) * 4000] as const)
  const name = letters(sql`g::text`, 10)
  for (const [lo, hi] of chunks) {
    await sql`insert into users (email, username, username_key, password_hash)
      select 'seed' || g || '@example.com', ${name}, ${name} || '-' || g, 'x' from generate_series(${lo}::int, ${hi}::int) g`.execute(app.db)
    await sql`insert into rooms (name) select 'room ' || ${letters(sql`'room' || g`, 10)} from generate_series(${lo}::int, ${hi}::int) g`.execute(app.db)
  }
  // Messages of 8 words of 6 letters and `daily`, in alice's room and in one she is not in.
  for (const target of [room, elsewhere]) {
    const words = sql`(select string_agg(${letters(sql`${String(target)} || '-' || g || '-' || j`, 6, 26)}, ' ') from generate_series(1, 8) j)`
    for (const [lo, hi] of chunks) {
      await sql`with r as (update rooms set last_seq = last_seq + 4000 where id = ${target} returning last_seq - 4000 as base)
        insert into messages (room_id, user_id, content, seq)
        select ${target}, ${alice.id}, ${words} || ' daily' || case when g % 1000 = 0 then ' meetings at https://files.example.com/q' || g || '-report.pdf' else '' end, r.base + g - ${lo}::int + 1
        from r, generate_series(${lo}::int, ${hi}::int) g`.execute(app.db)
    }
  }
  // VACUUM as well as ANALYZE: the state autovacuum keeps a table in. Rows just inserted wait in a
  // GIN index's pending list, which every scan reads whole until a vacuum merges it: with 20k of
  // them the planner rightly preferred a scan of rooms (index cost 1196 before, 36 after).
  await sql`vacuum analyze`.execute(app.db)
  const { rows: [sample] } = await sql<{ username: string, room: string, word: string }>`select
    (select substr(username, 3, 6) from users where email = 'seed777@example.com') as username,
    (select substr(name, 8, 6) from rooms where name like 'room %' order by id offset 777 limit 1) as room,
    (select split_part(content, ' ', 3) from messages where room_id = ${room} order by id offset 777 limit 1) as word`.execute(app.db)

  async function plan (query: { compile: () => CompiledQuery }): Promise<string> {
    const compiled = query.compile()
    const { rows } = await app.db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${compiled.sql}`, [...compiled.parameters]))
    return rows.map(row => row['QUERY PLAN']).join('\n')
  }

  const users = await plan(listUsersQuery(app.db, { q: sample!.username, limit: 50, offset: 0 }))
  t.match(users, /users_username_trgm_idx/, `GET /users?q= uses the trigram index:\n${users}`)
  t.notMatch(users, /Seq Scan on users/)
  const rooms = await plan(listRoomsQuery(app.db, alice.id, { q: sample!.room, limit: 50, offset: 0 }))
  t.match(rooms, /rooms_name_trgm_idx/, `GET /rooms?q= uses the trigram index:\n${rooms}`)
  t.notMatch(rooms, /Seq Scan on rooms/)
  for (const q of [sample!.word, sample!.word.slice(1, 5), 'meeting', 'report.pdf', `${sample!.word} or meeting -nothing`]) {
    const searched = await plan(searchQuery(app.db, parseQuery(q), { viewerId: alice.id, language: 'english', sort: 'relevance', limit: 21 }, headlineOptions('a', 'b')))
    t.match(searched, /messages_search_vector_idx/, `q=${q}: the full-text index:\n${searched}`)
    t.match(searched, /messages_content_trgm_idx/, `q=${q}: the trigram index`)
    t.notMatch(searched, /Seq Scan on messages/, `q=${q}: no scan of messages`)
  }
  // A word in every message: sort=recent walks the newest and stops at the page, instead of
  // gathering 40k matches. (Relevance's 500 candidates are a large share of a 40k-row table, so
  // the planner may rightly read it whole here; at 1M messages it walks too: bench P12.)
  const common = await plan(searchQuery(app.db, parseQuery('daily'), { viewerId: alice.id, language: 'english', sort: 'recent', limit: 21 }, headlineOptions('a', 'b')))
  t.match(common, /Index Scan Backward using messages_live_created_at_id_idx on messages/, `q=daily (in every message), sort=recent: newest first:\n${common}`)
  t.notMatch(common, /Seq Scan on messages|Bitmap Heap Scan on messages/, 'q=daily, sort=recent: no scan, no bitmap of every match')
  for (const sort of ['relevance', 'recent']) {
    const answer = (await search(app, alice, { q: 'daily', sort })).body as Page
    t.equal(answer.results.length, 20, `q=daily, ${sort}: a page`)
    t.ok(answer.results.every(r => r.message.room_id === room && r.message.content.includes(' daily')), 'of her room only')
  }
  // And the route itself answers from them: the messages with the word, in alice's room only.
  const answer = (await search(app, alice, { q: sample!.word })).body as Page
  t.ok(answer.results.length >= 1 && answer.results.every(r => r.message.room_id === room && r.message.content.includes(sample!.word)), 'found in her room only')
  t.equal(((await search(app, alice, { q: 'meeting', limit: 50 })).body as Page).results.length, 20, 'every meeting of her room')
})
