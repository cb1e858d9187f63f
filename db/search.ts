import { type CompiledQuery, type RawBuilder, sql } from 'kysely'
import type { Db } from './database.js'
import type { MessageRow } from './messages.js'
import { type ViewParts, viewParts } from './message-views.js'
import { likeLiteral } from './rooms.js'
import { StatementCache } from './statement-cache.js'

/**
 * What a search looks for, read from `q` (src/chat/search.ts `parseQuery`): `q` itself goes to
 * `websearch_to_tsquery`; `groups` are its `or` alternatives, each the pieces (words and phrases of
 * at least 3 characters) that must all appear in the content as substrings; `excluded` the `-word`
 * and `-"phrase"` parts, which no result contains, as a word or as a piece.
 */
export interface SearchTerms {
  q: string
  groups: string[][]
  excluded: Array<{ text: string, piece: boolean }>
}

/** Where the previous page ended: its last result's sort key (rank only for relevance order). */
export interface SearchCursor {
  rank?: number
  /** created_at in microseconds as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (a Date would lose them). */
  at: string
  id: number
}

export interface SearchFilter {
  viewerId: number
  language: string
  sort: 'relevance' | 'recent'
  limit: number
  roomId?: number | undefined
  userId?: number | undefined
  from?: string | undefined
  to?: string | undefined
  after?: SearchCursor | undefined
}

export interface SearchRow extends MessageRow, ViewParts {
  rank: number
  /** The cursor's created_at (microseconds, UTC). */
  at: string
  /** ts_headline's passage when the full-text query matched; null when only a piece did. */
  headline: string | null
}

/**
 * ts_headline drops what its parser reads as HTML tags (`<b>`, `<script>`): the passage is made
 * from the content with `<` and `>` as these noncharacters (Unicode's own for internal use), put
 * back by src/chat/search.ts before escaping.
 */
export const ANGLES = ['\uFDD0', '\uFDD1'] as const

/** ts_headline's options: the passage's marks are these sentinels (src/chat/search.ts replaces them after escaping). */
export function headlineOptions (start: string, stop: string): string {
  return `StartSel=${start}, StopSel=${stop}, MaxWords=35, MinWords=15`
}

/**
 * Relevance ranks at most this many matches: the newest ones (README "Search", the route's
 * description). Finding them is bounded whatever the term (see `searchQuery`); ranking every match
 * of a word that is in most messages was not (2 s at 1M messages, P12).
 */
export const RANKED_MAX = 500

/** A result's messages columns (db/messages.ts `columns` but the author's name, joined on the page only). */
const MESSAGE = ['id', 'room_id', 'user_id', 'content', 'created_at', 'seq', 'client_msg_id', 'edited_at', 'deleted_at', 'reply_to', 'reply_count'] as const

/** What decides a search statement's text (see `StatementCache`): which parts it has. */
interface SearchShape {
  /** Per `or` group of pieces, how many pieces. */
  groups: number[]
  /** Per excluded part, whether it is excluded as a piece too. */
  excluded: boolean[]
  room: boolean
  user: boolean
  from: boolean
  to: boolean
  relevance: boolean
  after: boolean
}

/**
 * A search statement's parameters, each used as it is (see `StatementCache`): the pieces as ILIKE
 * patterns (`piece:<group>:<i>`), the excluded parts (`excluded:<i>`, `excludedPattern:<i>`).
 */
type SearchValues = Record<string, unknown>

function searchShape (terms: SearchTerms, filter: SearchFilter): SearchShape {
  return {
    groups: terms.groups.filter(group => group.length > 0).map(group => group.length),
    excluded: terms.excluded.map(part => part.piece),
    room: filter.roomId !== undefined,
    user: filter.userId !== undefined,
    from: filter.from !== undefined,
    to: filter.to !== undefined,
    relevance: filter.sort === 'relevance',
    after: filter.after !== undefined
  }
}

const pattern = (text: string): string => `%${likeLiteral(text)}%`

function searchValues (terms: SearchTerms, filter: SearchFilter, headline: string): SearchValues {
  const values: SearchValues = {
    language: filter.language,
    q: terms.q,
    viewerId: filter.viewerId,
    candidates: filter.sort === 'relevance' ? RANKED_MAX : filter.limit,
    limit: filter.limit,
    headline,
    roomId: filter.roomId,
    userId: filter.userId,
    from: filter.from,
    to: filter.to,
    afterAt: filter.after?.at,
    afterId: filter.after?.id,
    afterRank: filter.after?.rank ?? 0
  }
  terms.groups.filter(group => group.length > 0).forEach((group, g) => {
    group.forEach((piece, i) => { values[`piece:${g}:${i}`] = pattern(piece) })
  })
  terms.excluded.forEach(({ text }, i) => {
    values[`excluded:${i}`] = text
    values[`excludedPattern:${i}`] = pattern(text)
  })
  return values
}

/**
 * One page of the caller's search (`searchQuery`), its rows in order. The statement's text is
 * compiled once per shape (`StatementCache`).
 */
export async function searchMessages (db: Db, terms: SearchTerms, filter: SearchFilter, headline: string): Promise<SearchRow[]> {
  const { rows } = await db.executeQuery(compiledSearch(db, terms, filter, headline))
  return rows
}

/** `searchQuery` compiled, through the statement cache: the same text and parameters as `searchQuery(…).compile()`. */
export function compiledSearch (db: Db, terms: SearchTerms, filter: SearchFilter, headline: string): CompiledQuery<SearchRow> {
  return statements(db).compile<SearchRow>(searchShape(terms, filter), searchValues(terms, filter, headline))
}

/** Per database handle (tests run several apps in one process), its compiled search statements. */
const caches = new WeakMap<Db, StatementCache<SearchShape, SearchValues>>()
function statements (db: Db): StatementCache<SearchShape, SearchValues> {
  let cache = caches.get(db)
  if (cache === undefined) {
    cache = new StatementCache((shape, values) => buildSearch(db, shape, values))
    caches.set(db, cache)
  }
  return cache
}

/**
 * One page of the caller's search, in the caller's rooms only (room_members at query time), never
 * a deleted message. A result is a full-text match of `q` (the GIN index on search_vector) or has
 * every piece of one `or` group in its content (ILIKE, served by the trigram index on content).
 * `limit` rows are asked for: the caller asks one more to know if a page follows.
 *
 * In three steps, each bounded:
 * 1. the candidates: the newest matches, at most RANKED_MAX for relevance, the page itself for
 *    `sort=recent` (after the cursor). The planner picks, from the statistics of search_vector and
 *    content, between the GIN indexes (a rare term: its few matches, then sorted) and a walk of
 *    messages_live_created_at_id_idx newest first that stops at the bound (a common term: its
 *    matches are most rows). Membership is a subquery probed per match (`+ 0` keeps the rooms'
 *    btree indexes out of the messages scan: ANDing each room's whole index with the GIN matches
 *    read O(table) per search, 9× slower at 1M messages than at 10k). `offset 0` keeps it a
 *    filter rather than a semi-join: as a join, `room_id + 0` (no statistics) was estimated to
 *    keep 1 message in 50 whatever the caller's rooms, so the walk looked 50× longer than it is
 *    and at 100k messages a Seq Scan on messages and a sort of every match won (bench P12
 *    --quick); as a filter it is costed per row read, which makes reading every match the
 *    expensive plan it is.
 * 2. the page: the candidates ranked by ts_rank then newest (or newest), after the cursor.
 * 3. the page's rows only get their author's name, ts_headline's passage and their view parts
 *    (reactions and attachments, db/message-views.ts `viewParts`): the page and its views in one round trip.
 */
export function searchQuery (db: Db, terms: SearchTerms, filter: SearchFilter, headline: string) {
  return buildSearch(db, searchShape(terms, filter), searchValues(terms, filter, headline))
}

/** `searchQuery` from its shape and values (each value a parameter, as `StatementCache` needs). */
function buildSearch (db: Db, shape: SearchShape, v: SearchValues) {
  const config = sql`${v.language}::regconfig`
  const query = sql`websearch_to_tsquery(${config}, ${v.q})`
  const contains = (key: string): RawBuilder<boolean> => sql<boolean>`messages.content ilike ${v[key]}`
  const pieces = shape.groups.map((size, g) => sql.join(Array.from({ length: size }, (_, i) => contains(`piece:${g}:${i}`)), sql` and `))
  const match = sql.join([sql`messages.search_vector @@ ${query}`, ...pieces.map(p => sql`(${p})`)], sql` or `)

  let candidates = db.selectFrom('messages')
    .select([...MESSAGE.map(column => `messages.${column}` as const), 'messages.search_vector'])
    .where('messages.deleted_at', 'is', null)
    .where(sql<boolean>`(${match})`)
    .where(({ exists, selectFrom }) => exists(selectFrom('room_members as me').select(sql`1`.as('one'))
      .where(sql<boolean>`me.user_id = ${v.viewerId}`).where(sql<boolean>`me.room_id = messages.room_id + 0`).offset(0)))
  shape.excluded.forEach((piece, i) => {
    candidates = candidates.where(sql<boolean>`not (messages.search_vector @@ phraseto_tsquery(${config}, ${v[`excluded:${i}`]}))`)
    if (piece) candidates = candidates.where(sql<boolean>`not (${contains(`excludedPattern:${i}`)})`)
  })
  if (shape.room) candidates = candidates.where(sql<boolean>`messages.room_id = ${v.roomId}`)
  if (shape.user) candidates = candidates.where(sql<boolean>`messages.user_id = ${v.userId}`)
  if (shape.from) candidates = candidates.where(sql<boolean>`messages.created_at >= ${v.from}::timestamptz`)
  if (shape.to) candidates = candidates.where(sql<boolean>`messages.created_at < ${v.to}::timestamptz`)
  if (!shape.relevance && shape.after) candidates = candidates.where(sql<boolean>`(messages.created_at, messages.id) < (${v.afterAt}::timestamptz, ${v.afterId})`)
  candidates = candidates.orderBy('messages.created_at', 'desc').orderBy('messages.id', 'desc').limit(sql<number>`${v.candidates}`)

  const rank = sql<number>`ts_rank(c.search_vector, ${query})`
  let page = db.selectFrom(candidates.as('c'))
    .select(MESSAGE.map(column => `c.${column}` as const))
    .select([rank.as('rank'), sql<boolean>`c.search_vector @@ ${query}`.as('fts'),
      sql<string>`to_char(c.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('at')])
  if (shape.relevance) {
    if (shape.after) page = page.where(sql<boolean>`(${rank}, c.created_at, c.id) < (${v.afterRank}::real, ${v.afterAt}::timestamptz, ${v.afterId})`)
    page = page.orderBy(rank, 'desc')
  }
  page = page.orderBy('c.created_at', 'desc').orderBy('c.id', 'desc').limit(sql<number>`${v.limit}`)

  const [reactions, attachments] = viewParts(sql<number>`page.id`, v.viewerId as number)
  return db.selectFrom(page.as('page'))
    .leftJoin('users', 'users.id', 'page.user_id')
    .select([...MESSAGE.map(column => `page.${column}` as const), 'page.rank', 'page.at'])
    .select([reactions.as('reactions'), attachments.as('attachments')])
    .select(['users.username', sql<string | null>`case when page.fts then ts_headline(${config}, translate(page.content, '<>', ${ANGLES.join('')}), ${query}, ${v.headline}) end`.as('headline')])
    .$call(qb => shape.relevance ? qb.orderBy(sql`page.rank`, 'desc') : qb)
    .orderBy('page.created_at', 'desc')
    .orderBy('page.id', 'desc')
}

/** Whether the database has this text search configuration. */
export async function hasTextSearchConfig (db: Db, name: string): Promise<boolean> {
  const { rows } = await sql<{ yes: boolean }>`select exists (select 1 from pg_ts_config where cfgname = ${name}) as yes`.execute(db)
  return rows[0]?.yes === true
}

/** The generated expression of messages.search_vector (names the configuration the stored words were made with). */
export async function searchVectorExpression (db: Db): Promise<string | undefined> {
  const { rows } = await sql<{ expr: string }>`select pg_get_expr(d.adbin, d.adrelid) as expr from pg_attrdef d
    join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
    where d.adrelid = 'messages'::regclass and a.attname = 'search_vector'`.execute(db)
  return rows[0]?.expr
}
