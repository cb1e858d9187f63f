import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { roomIdsOfUser } from '../../db/rooms.js'
import type { Config } from '../../src/config.js'
import { forbidden } from '../../src/errors.js'
import { serveSocket, type SocketStart } from '../../plugins/realtime/session.js'
import { parseSince } from './frames.js'
import { authErrors, bearer, ErrorResponse, errors } from '../../src/schemas/common.js'
import { WsQuery } from '../../src/schemas/realtime.js'

/** The user, their rooms and `?since=`, looked up before the upgrade so the socket is subscribed the moment it opens. */
const startOf = new WeakMap<FastifyRequest, SocketStart>()

const ws: FastifyPluginAsyncTypebox<{ config: Pick<Config, 'environment' | 'corsOrigins'> }> = async function (app, opts) {
  const { environment, corsOrigins } = opts.config

  /** In production a browser page may only connect from an allowed origin (clients without an Origin header are not browsers). */
  async function checkOrigin (request: FastifyRequest): Promise<void> {
    if (environment !== 'production' || corsOrigins === true) return
    const origin = request.headers.origin
    if (origin === undefined) return
    if (corsOrigins === false || !corsOrigins.includes(origin)) throw forbidden(`Origin ${origin} is not allowed`, 'ORIGIN_NOT_ALLOWED')
  }

  app.route({
    method: 'GET',
    url: '',
    config: { websocketToken: true },
    onRequest: [checkOrigin, app.authenticate],
    preHandler: async request => {
      const { since } = request.query as { since?: string }
      const rooms = since === undefined ? undefined : parseSince(since)
      // `authenticate` has refused tokens of users who no longer exist and read the username.
      const { id, username, exp, ver } = request.user
      const roomIds = await roomIdsOfUser(app.db, id)
      startOf.set(request, { user: { id, username }, roomIds, since: rooms, exp, tokenVersion: ver })
    },
    schema: {
      operationId: 'openWebSocket',
      tags: ['messages'],
      summary: 'Open the realtime WebSocket (upgrade)',
      description: 'A WebSocket upgrade. The token goes in `Authorization: Bearer`, in `?token=`, or as the subprotocols ' +
        '`bearer, <token>`; without a valid one the upgrade is refused with 401 before any socket opens. ' +
        'Frames are JSON `{"type", "payload"}`: the client sends `message:send`, `room:join`, `sync`, `typing` and ' +
        '`presence:get`; the server sends `message:new`, `room:joined`, `sync:reset`, `sync:done`, `typing`, `presence`, ' +
        '`presence:list` and `error`. `?since=<room_id>:<seq>,...` catches up at once, as a `sync` frame sent right after ' +
        'connecting would. The socket is closed with 4401 when the token expires or is revoked (logout, a new password or ' +
        'email, the account disabled). See README.md and asyncapi.yaml for the protocol.',
      security: bearer,
      querystring: WsQuery,
      response: {
        101: Type.Null({ description: 'Switching Protocols: the socket is open and subscribed to the user\'s rooms' }),
        400: Type.Ref(ErrorResponse, { description: 'Invalid `since`: the `error` names it' }),
        403: Type.Ref(ErrorResponse, { description: 'In production: the page\'s Origin is not in CORS_ORIGINS' }),
        426: Type.Ref(ErrorResponse, { description: 'A plain HTTP request: this route only accepts a WebSocket upgrade' }),
        ...errors(...authErrors)
      }
    },
    wsHandler (socket, request) {
      const start = startOf.get(request)
      if (start === undefined) socket.close(4401, 'Not authenticated')
      else serveSocket(app, socket, request, start)
    },
    handler: async (_request, reply) => await reply.code(426).header('upgrade', 'websocket')
      .send({ error: 'GET /ws must be a WebSocket upgrade request', code: 'UPGRADE_REQUIRED' })
  })
}

export default ws
