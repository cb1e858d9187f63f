import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { activityOf, siteStats } from '../../src/chat/stats.js'
import { authErrors, bearer, ErrorResponse, errors, IdParams } from '../../src/schemas/common.js'
import { AdminStats, UserStats } from '../../src/schemas/stats.js'

const NOT_ADMIN = Type.Ref(ErrorResponse, { description: 'You are not a site admin (ADMIN_ONLY)' })
const FRESHNESS = 'Messages and new users are counted by a rollup (every ROLLUP_INTERVAL_MS on each instance, one at a time); ' +
  'this request runs it first, so they are current. A deleted message still counts: the numbers are of messages sent.'

const admin: FastifyPluginAsyncTypebox = async function (app) {
  app.get('/stats', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'adminStats',
      tags: ['admin'],
      summary: 'Site admins: users, rooms, messages, sockets, the last 30 days and the busiest rooms',
      description: 'Every day is a UTC day. Active users are the ones seen (an authenticated request or a socket opening) in the ' +
        'last 24 hours, 7 days and 30 days. `sockets_connected` counts the WebSockets open on every instance. ' +
        `${FRESHNESS} Its cost does not grow with the number of messages stored.`,
      security: bearer,
      response: { 200: Type.Ref(AdminStats, { description: 'The site\'s numbers' }), 403: NOT_ADMIN, ...errors(...authErrors) }
    }
  }, async (request) => await siteStats({ db: app.db, sockets: app.realtime.presence.sockets }, request.user))

  app.get('/users/:id/activity', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'adminUserActivity',
      tags: ['admin'],
      summary: 'Site admins: one user\'s messages, rooms, last seen and the last 30 days',
      description: FRESHNESS,
      security: bearer,
      params: IdParams,
      response: {
        200: Type.Ref(UserStats, { description: 'The user\'s numbers' }),
        403: NOT_ADMIN,
        404: Type.Ref(ErrorResponse, { description: 'No such user (USER_NOT_FOUND)' }),
        ...errors(400, ...authErrors)
      }
    }
  }, async (request) => await activityOf(app.db, request.user, request.params.id))
}

export default admin
