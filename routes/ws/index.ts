import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import type { SocketStart } from '../../plugins/realtime/index.js'
import { addressKey } from '../../src/chat/addresses.js'
import type { Config } from '../../src/config.js'
import { AppError, forbidden } from '../../src/errors.js'
import { authErrors, bearer, ErrorResponse, errors } from '../../src/schemas/common.js'
import { type ClientPayload, WsQuery } from '../../src/schemas/realtime.js'
import { parseClientFrame, parseSince } from './frames.js'
import { frameHandlers } from './handlers.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on a WebSocket upgrade before it completes: who the socket belongs to and what it starts with. */
    socketStart: { start: SocketStart, since: ClientPayload<'sync'>['rooms'] | undefined } | null
  }
}

const ws: FastifyPluginAsyncTypebox<{ config: Pick<Config, 'wsOrigins'> }> = async function (app, opts) {
  const { wsOrigins } = opts.config
  app.decorateRequest('socketStart', null)

  /** A browser page may only connect from an allowed origin (clients without an Origin header are not browsers). */
  async function checkOrigin (request: FastifyRequest): Promise<void> {
    const origin = request.headers.origin
    if (wsOrigins === true || origin === undefined) return
    if (wsOrigins === false || !wsOrigins.includes(origin)) throw forbidden(`Origin ${origin} is not allowed`, 'ORIGIN_NOT_ALLOWED')
  }

  app.route({
    method: 'GET',
    url: '',
    config: { websocketToken: true },
    onRequest: [checkOrigin, app.authenticate],
    preHandler: async request => {
      const since = request.query.since === undefined ? undefined : parseSince(request.query.since)
      // `authenticate` has refused tokens of users who no longer exist and read the username.
      const { id, username, ver } = request.user
      request.socketStart = { start: await app.realtime.prepare({ id, username }, ver, addressKey(request.ip), request.raw.socket, request.log), since }
    },
    schema: {
      operationId: 'openWebSocket',
      tags: ['messages'],
      summary: 'Open the realtime WebSocket (upgrade)',
      description: 'A WebSocket upgrade. The token goes in `Authorization: Bearer`, in `?token=`, or as the subprotocols ' +
        '`bearer, <token>`; without a valid one the upgrade is refused with 401 before any socket opens. ' +
        'Frames are JSON `{"type", "payload"}`: the client sends `message:send`, `room:join`, `sync`, `typing` and ' +
        '`presence:get`; the server sends the room feed (`message:new`, `message:updated`, `message:deleted`, `reaction:added`, ' +
        '`reaction:removed`, `member:joined`, `member:left`, `member:updated`, `room:updated`, in seq order), `room:removed`, `room:deleted`, ' +
        '`room:invited`, `room:added`, `read`, `room:joined`, `sync:reset`, `sync:done`, `typing`, `presence`, `presence:list` and `error`. `?since=<room_id>:<seq>,...` catches up at once, as a `sync` frame sent right after ' +
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
      const { start, since } = request.socketStart!
      const handlers = frameHandlers(app, request)
      app.realtime.open(socket, start, {
        exp: request.user.exp,
        catchingUp: since === undefined ? [] : Object.keys(since).map(Number),
        verify: async () => await app.isTokenCurrent(request.user),
        start: async session => { if (since !== undefined) await handlers.sync({ rooms: since }, session) },
        dispatch: async (data, isBinary, session) => {
          const frame = parseClientFrame(data, isBinary)
          await (handlers[frame.type] as (payload: typeof frame.payload, s: typeof session) => Promise<void>)(frame.payload, session)
        }
      })
    },
    handler: async (_request, reply) => {
      reply.header('upgrade', 'websocket')
      throw new AppError(426, 'GET /ws must be a WebSocket upgrade request', 'UPGRADE_REQUIRED')
    }
  })
}

export default ws
