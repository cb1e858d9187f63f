import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { roomIdsOfUser } from '../../db/rooms.js'
import type { Config } from '../../src/config.js'
import { forbidden } from '../../src/errors.js'
import { serveSocket } from '../../src/realtime/connection.js'
import { authErrors, bearer, ErrorResponse, errors } from '../../src/schemas/common.js'
import { WsQuery } from '../../src/schemas/realtime.js'

/** The rooms a user belongs to, looked up before the upgrade so the socket is subscribed the moment it opens. */
const roomsOf = new WeakMap<FastifyRequest, number[]>()

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
    preHandler: async request => { roomsOf.set(request, await roomIdsOfUser(app.db, request.user.id)) },
    schema: {
      operationId: 'openWebSocket',
      tags: ['messages'],
      summary: 'Open the realtime WebSocket (upgrade)',
      description: 'A WebSocket upgrade. The token goes in `Authorization: Bearer`, in `?token=`, or as the subprotocols ' +
        '`bearer, <token>`; without a valid one the upgrade is refused with 401 before any socket opens. ' +
        'Frames are JSON `{"type", "payload"}`: the client sends `message:send` and `room:join`; the server sends ' +
        '`message:new`, `room:joined` and `error`. See README.md for the protocol.',
      security: bearer,
      querystring: WsQuery,
      response: {
        101: Type.Null({ description: 'Switching Protocols: the socket is open and subscribed to the user\'s rooms' }),
        403: Type.Ref(ErrorResponse, { description: 'In production: the page\'s Origin is not in CORS_ORIGINS' }),
        426: Type.Ref(ErrorResponse, { description: 'A plain HTTP request: this route only accepts a WebSocket upgrade' }),
        ...errors(...authErrors)
      }
    },
    wsHandler (socket, request) {
      serveSocket(app, socket, request, roomsOf.get(request) ?? [])
    },
    handler: async (_request, reply) => await reply.code(426).header('upgrade', 'websocket')
      .send({ error: 'GET /ws must be a WebSocket upgrade request', code: 'UPGRADE_REQUIRED' })
  })
}

export default ws
