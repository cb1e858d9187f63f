import { type Static, Type } from '@sinclair/typebox'
import { CONTENT_MAX } from '../limits.js'
import { Id, NO_NUL } from './common.js'
import { Message } from './messages.js'

/** The most results a search page holds. */
export const SEARCH_PAGE_MAX = 50
/** `q`: 1 to this many characters. */
export const SEARCH_Q_MAX = 200

const Instant = Type.String({ format: 'date-time', maxLength: 32, examples: ['2026-01-28T10:30:00.000Z'] })

export const SearchQuery = Type.Object({
  q: Type.String({
    minLength: 1,
    maxLength: SEARCH_Q_MAX,
    pattern: NO_NUL,
    description: 'What to look for, in web-search syntax: words (all of them), `"a phrase"`, `or` between alternatives, `-word` to exclude. ' +
      'Word forms match (`meeting` finds `meetings`), and so does any piece of at least 3 letters or digits inside words, URLs and file names ' +
      '(`report` finds `quarterly-report.pdf`).',
    examples: ['"quarterly report" -draft']
  }),
  room_id: Type.Optional(Type.Integer({ ...Id, description: 'Only this room (you must be a member: 404 ROOM_NOT_FOUND / 403 NOT_A_MEMBER as other room reads)' })),
  user_id: Type.Optional(Type.Integer({ ...Id, description: 'Only messages by this user' })),
  from: Type.Optional({ ...Instant, description: 'Only messages created at or after this time' }),
  to: Type.Optional({ ...Instant, description: 'Only messages created before this time' }),
  sort: Type.Optional(Type.Union([Type.Literal('relevance'), Type.Literal('recent')], { description: '`relevance` (default: ts_rank, then newest) or `recent` (newest first)' })),
  limit: Type.Integer({ format: 'int32', minimum: 1, maximum: SEARCH_PAGE_MAX, default: 20, description: `Page size, 1 to ${SEARCH_PAGE_MAX}` }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The `next_cursor` of the previous page (same `sort`); anything else is 400 INVALID_CURSOR' }))
})

export type SearchInput = Static<typeof SearchQuery>

export const SearchResult = Type.Object({
  message: Type.Ref(Message),
  highlight: Type.String({
    // Every character escaped (at most 6 for one), plus the marks.
    maxLength: CONTENT_MAX * 20,
    description: 'The matching passage as HTML: each match wrapped in `<mark>…</mark>`, every other character HTML-escaped (safe to insert as HTML)',
    examples: ['the <mark>quarterly</mark>-<mark>report</mark>.pdf is up']
  })
}, { $id: 'SearchResult', title: 'SearchResult' })

export const SearchResults = Type.Object({
  results: Type.Array(Type.Ref(SearchResult), { maxItems: SEARCH_PAGE_MAX }),
  next_cursor: Type.Union([Type.String({ maxLength: 200 }), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page' })
}, { $id: 'SearchResults', title: 'SearchResults' })

export type SearchPage = Static<typeof SearchResults>
