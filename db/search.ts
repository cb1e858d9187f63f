import { type RawBuilder, sql } from 'kysely'
import type { Db } from './database.js'
import { columns, type MessageRow } from './messages.js'
import { likeLiteral } from './rooms.js'

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

export interface SearchRow extends MessageRow {
  rank: number
  /** The cursor's created_at (microseconds, UTC). */
  at: string
  /** Whether the full-text query matched (else a piece did), and then ts_headline's passage. */
  fts: boolean
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

const contains = (text: string): RawBuilder<boolean> => sql<boolean>`messages.content ilike ${`%${likeLiteral(text)}%`}`

/**
 * One page of the caller's search, in the caller's rooms only (joined on room_members at query
 * time), never a deleted message. A result is a full-text match of `q` (the GIN index on
 * search_vector) or has every piece of one `or` group in its content (ILIKE, served by the
 * trigram index on content). Ordered by ts_rank then newest, or newest; `after` continues after the
 * previous page's last key. `limit` rows are asked for: the caller asks one more to know if a page
 * follows. `ts_headline` is computed for the page's rows only.
 */
export async function searchMessages (db: Db, terms: SearchTerms, filter: SearchFilter, headline: string): Promise<SearchRow[]> {
  return await searchQuery(db, terms, filter, headline).execute()
}

/** The statement `searchMessages` runs (test/routes/search.test.ts reads its plan). */
export function searchQuery (db: Db, terms: SearchTerms, filter: SearchFilter, headline: string) {
  const config = sql`${filter.language}::regconfig`
  const query = sql`websearch_to_tsquery(${config}, ${terms.q})`
  const rank = sql<number>`ts_rank(messages.search_vector, ${query})`
  const fullText = sql<boolean>`messages.search_vector @@ ${query}`
  const pieces = terms.groups.filter(group => group.length > 0).map(group => sql.join(group.map(contains), sql` and `))
  const match = sql.join([fullText, ...pieces.map(p => sql`(${p})`)], sql` or `)

  let inner = db.selectFrom('messages')
    .innerJoin('room_members as me', join => join.onRef('me.room_id', '=', 'messages.room_id').on('me.user_id', '=', filter.viewerId))
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select([...columns, rank.as('rank'), fullText.as('fts'),
      sql<string>`to_char(messages.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('at')])
    .where('messages.deleted_at', 'is', null)
    .where(sql<boolean>`(${match})`)
  for (const { text, piece } of terms.excluded) {
    inner = inner.where(sql<boolean>`not (messages.search_vector @@ phraseto_tsquery(${config}, ${text}))`)
    if (piece) inner = inner.where(sql<boolean>`not (${contains(text)})`)
  }
  if (filter.roomId !== undefined) inner = inner.where('messages.room_id', '=', filter.roomId)
  if (filter.userId !== undefined) inner = inner.where('messages.user_id', '=', filter.userId)
  if (filter.from !== undefined) inner = inner.where('messages.created_at', '>=', sql<Date>`${filter.from}::timestamptz`)
  if (filter.to !== undefined) inner = inner.where('messages.created_at', '<', sql<Date>`${filter.to}::timestamptz`)
  const after = filter.after
  if (filter.sort === 'relevance') {
    if (after !== undefined) inner = inner.where(sql<boolean>`(${rank}, messages.created_at, messages.id) < (${after.rank ?? 0}::real, ${after.at}::timestamptz, ${after.id})`)
    inner = inner.orderBy(rank, 'desc').orderBy('messages.created_at', 'desc').orderBy('messages.id', 'desc')
  } else {
    if (after !== undefined) inner = inner.where(sql<boolean>`(messages.created_at, messages.id) < (${after.at}::timestamptz, ${after.id})`)
    inner = inner.orderBy('messages.created_at', 'desc').orderBy('messages.id', 'desc')
  }
  // The page first (a LIMIT keeps the subquery apart), then the passages of its rows only.
  return db.selectFrom(inner.limit(filter.limit).as('page'))
    .selectAll('page')
    .select(sql<string | null>`case when page.fts then ts_headline(${config}, translate(page.content, '<>', ${ANGLES.join('')}), ${query}, ${headline}) end`.as('headline'))
    .orderBy(filter.sort === 'relevance' ? sql`page.rank` : sql`page.created_at`, 'desc')
    .$call(qb => filter.sort === 'relevance' ? qb.orderBy('page.created_at', 'desc') : qb)
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
