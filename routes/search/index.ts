import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { RANKED_MAX } from '../../db/search.js'
import type { Config } from '../../src/config.js'
import { searchForUser } from '../../src/chat/search.js'
import { authErrors, bearer, errors } from '../../src/schemas/common.js'
import { SearchQuery, SearchResults } from '../../src/schemas/search.js'

const search: FastifyPluginAsyncTypebox<{ config: Config }> = async function (app, { config }) {
  // Checked against the database at start-up (plugins/db.ts).
  const { language } = config.search
  app.addHook('onRequest', app.authenticate)

  app.get('/messages', {
    schema: {
      operationId: 'searchMessages',
      tags: ['messages'],
      summary: 'Search the messages of your rooms',
      description: 'Full-text search (word forms: `meeting` finds `meetings`) and substring search (pieces of at least 3 letters or digits ' +
        'inside words, URLs and file names: `report` finds `quarterly-report.pdf`) over the messages of the rooms you are a member of ' +
        'at the time of the search; never a deleted message, and an edit is found by its new text as soon as it has answered. ' +
        `Ranked by relevance then newest among the newest ${RANKED_MAX} matches (so the ranking costs the same at any size; older matches are not in this order), ` +
        'or newest first (`sort=recent`, every match, page after page); `from` (inclusive) and `to` (exclusive) bound `created_at`. ' +
        '`highlight` is the matching passage with each match in `<mark>…</mark>` and every other character HTML-escaped. ' +
        'Refused: a `q` with nothing to look for (only exclusions) 400 VALIDATION_ERROR, a cursor this search did not give 400 INVALID_CURSOR, ' +
        'a `room_id` you cannot see 404 ROOM_NOT_FOUND, one you are not a member of 403 NOT_A_MEMBER.',
      security: bearer,
      querystring: SearchQuery,
      response: { 200: Type.Ref(SearchResults, { description: 'A page of results, best first' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request) => await searchForUser(app.db, language, request.user.id, request.query))
}

export default search
