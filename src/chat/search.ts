import { randomBytes } from 'node:crypto'
import type { Db } from '../../db/database.js'
import { ANGLES, headlineOptions, hasTextSearchConfig, type SearchCursor, type SearchRow, type SearchTerms, searchMessages, searchVectorExpression } from '../../db/search.js'
import { INT32_MAX } from '../limits.js'
import { badRequest } from '../errors.js'
import type { SearchInput, SearchPage } from '../schemas/search.js'
import { assertMember } from './access.js'
import { toMessageView } from './message-views.js'

/** A piece counts for substring matching from this many characters (what a trigram index can serve). */
export const PIECE_MIN = 3
/** At most this many pieces of `q` are matched as substrings (each is an ILIKE). */
const PIECES_MAX = 8

/** Whether a word or phrase is a piece: at least 3 letters or digits in a row, so the trigram index has something to look up. */
const isPiece = (text: string): boolean => /[\p{L}\p{N}]{3}/u.test(text)

/**
 * Reads `q` as websearch_to_tsquery reads it: `"a phrase"`, `or` between alternatives, `-word` and
 * `-"a phrase"` excluded, anything else a word. The full-text side is PostgreSQL's own parse of
 * `q`; this one gives the pieces matched as substrings (see `SearchTerms`). 400 when nothing is
 * looked for (empty, or only exclusions).
 */
export function parseQuery (raw: string): SearchTerms {
  const q = raw.trim()
  const groups: string[][] = [[]]
  const excluded: SearchTerms['excluded'] = []
  let positive = 0
  let pieces = 0
  for (const [, minus, phrase, word] of q.matchAll(/(-?)(?:"([^"]*)"?|([^\s"]+))/g)) {
    const text = (phrase ?? word ?? '').trim()
    if (text === '') continue
    if (phrase === undefined && minus === '' && text.toLowerCase() === 'or') {
      groups.push([])
      continue
    }
    if (minus === '-') {
      excluded.push({ text, piece: isPiece(text) })
      continue
    }
    positive++
    if (isPiece(text) && pieces < PIECES_MAX) {
      groups.at(-1)!.push(text)
      pieces++
    }
  }
  if (positive === 0) throw badRequest('q must contain a word or phrase to look for (not only exclusions)')
  return { q, groups: groups.filter(group => group.length > 0), excluded }
}

const invalidCursor = (): Error => badRequest('cursor is not one this search returned', 'INVALID_CURSOR')
const AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

export function encodeCursor (cursor: SearchCursor): string {
  const key = cursor.rank === undefined ? [cursor.at, cursor.id] : [cursor.rank, cursor.at, cursor.id]
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

/** A cursor this search gave for the same sort order, or 400 INVALID_CURSOR. */
export function decodeCursor (text: string, sort: 'relevance' | 'recent'): SearchCursor {
  let key: unknown
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) throw invalidCursor()
    key = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    throw invalidCursor()
  }
  if (!Array.isArray(key) || key.length !== (sort === 'relevance' ? 3 : 2)) throw invalidCursor()
  const [rank, at, id] = sort === 'relevance' ? key as unknown[] : [undefined, ...key as unknown[]]
  if (typeof at !== 'string' || !AT.test(at) || Number.isNaN(Date.parse(at))) throw invalidCursor()
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > INT32_MAX) throw invalidCursor()
  if (rank !== undefined && (typeof rank !== 'number' || !Number.isFinite(rank) || rank < 0 || rank > 1e30)) throw invalidCursor()
  return rank === undefined ? { at, id } : { rank, at, id }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, c => ESCAPES[c]!)

const regexLiteral = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|/]/g, c => `\\${c}`)

/**
 * ts_headline's marks: random per process, so no message can contain them; everything is
 * HTML-escaped, then they become `<mark>` and `</mark>` (hex letters and digits survive escaping).
 */
const START = `hl${randomBytes(12).toString('hex')}s`
const STOP = `hl${randomBytes(12).toString('hex')}e`
export const HEADLINE = headlineOptions(START, STOP)

/** ts_headline's passage as HTML: every character escaped but the marks. */
export function markHeadline (headline: string, start = START, stop = STOP): string {
  const pattern = start === START && stop === STOP ? HEADLINE_PARTS : headlineParts(start, stop)
  return headline.replace(pattern, part => part === start ? '<mark>' : part === stop ? '</mark>' : HEADLINE_ESCAPES[part]!)
}

/** What `markHeadline` replaces, in one pass: the marks, what is escaped, and `ANGLES` (escaped as the `<` and `>` they stand for). */
const headlineParts = (start: string, stop: string): RegExp =>
  // eslint-disable-next-line security/detect-non-literal-regexp -- the marks are escaped (regexLiteral): literal text, no backtracking
  new RegExp(`${regexLiteral(start)}|${regexLiteral(stop)}|[&<>"'${ANGLES.join('')}]`, 'g')
const HEADLINE_PARTS = headlineParts(START, STOP)
const HEADLINE_ESCAPES: Record<string, string> = { ...ESCAPES, [ANGLES[0]]: ESCAPES['<']!, [ANGLES[1]]: ESCAPES['>']! }

/** How much text a passage found by a piece keeps around its first match. */
const BEFORE = 80
const PASSAGE = 300

/**
 * The passage of a message matched by pieces only (ts_headline marks words, not pieces): the
 * content around the first piece found, each occurrence of a piece in it marked, the rest escaped.
 */
export function markPieces (content: string, pieces: string[]): string {
  const sorted = [...new Set(pieces)].sort((a, b) => b.length - a.length)
  if (sorted.length === 0) return escapeHtml(content.slice(0, PASSAGE))
  // eslint-disable-next-line security/detect-non-literal-regexp -- every piece is escaped (regexLiteral): literal text, no backtracking
  const pattern = new RegExp(sorted.map(regexLiteral).join('|'), 'giu')
  const first = content.search(pattern)
  let start = 0
  let end = content.length
  if (content.length > PASSAGE) {
    start = Math.max(0, first - BEFORE)
    end = Math.min(content.length, start + PASSAGE)
    // Not inside a surrogate pair.
    if (/[\uDC00-\uDFFF]/.test(content[start] ?? '')) start--
    if (/[\uDC00-\uDFFF]/.test(content[end] ?? '')) end++
  }
  const passage = content.slice(start, end)
  let html = start > 0 ? '…' : ''
  let at = 0
  for (const found of passage.matchAll(pattern)) {
    html += `${escapeHtml(passage.slice(at, found.index))}<mark>${escapeHtml(found[0])}</mark>`
    at = found.index + found[0].length
  }
  return html + escapeHtml(passage.slice(at)) + (end < content.length ? '…' : '')
}

function highlight (row: SearchRow, terms: SearchTerms): string {
  if (row.headline !== null) return markHeadline(row.headline)
  return markPieces(row.content, terms.groups.flat())
}

/**
 * `GET /search/messages`: the caller's matching messages, in the rooms they are a member of now
 * (`room_id`: that room only, read as other room reads are: 404 ROOM_NOT_FOUND / 403 NOT_A_MEMBER).
 */
export async function searchForUser (db: Db, language: string, viewerId: number, query: SearchInput): Promise<SearchPage> {
  const terms = parseQuery(query.q)
  const sort = query.sort ?? 'relevance'
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, sort)
  if (query.room_id !== undefined) await assertMember(db, viewerId, query.room_id)
  const rows = await searchMessages(db, terms, {
    viewerId, language, sort, limit: query.limit + 1, roomId: query.room_id, userId: query.user_id, from: query.from, to: query.to, after
  }, HEADLINE)
  const page = rows.slice(0, query.limit)
  const last = page.at(-1)
  return {
    results: page.map(row => {
      // The row is the message with its view parts, plus the search's own columns (rank, at,
      // headline), which the response schema leaves out.
      return { message: toMessageView(row, row), highlight: highlight(row, terms) }
    }),
    next_cursor: rows.length > query.limit && last !== undefined
      ? encodeCursor(sort === 'relevance' ? { rank: last.rank, at: last.at, id: last.id } : { at: last.at, id: last.id })
      : null
  }
}

/**
 * At start-up: SEARCH_LANGUAGE must be one of the database's text search configurations (else
 * the error names it). Returns a warning when it differs from the configuration the stored words
 * were made with (messages.search_vector): stemming then matches only where both languages agree,
 * until a migration redefines the column.
 */
export async function checkSearchLanguage (db: Db, language: string): Promise<string | undefined> {
  if (!await hasTextSearchConfig(db, language)) {
    throw new Error(`SEARCH_LANGUAGE must name a text search configuration of the database (select cfgname from pg_ts_config); "${language}" is not one`)
  }
  const expression = await searchVectorExpression(db)
  const indexed = /'([a-z_][a-z0-9_]*)'::regconfig/.exec(expression ?? '')?.[1]
  if (indexed !== undefined && indexed !== language) {
    return `SEARCH_LANGUAGE=${language} but stored messages are indexed with "${indexed}": word forms match only where both agree until a migration redefines messages.search_vector (README "Search")`
  }
  return undefined
}
