import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Config } from '../../src/config.js'
import { roomHistory } from '../../src/chat/messages.js'
import { listRooms } from '../../db/rooms.js'
import { createRoom, joinRoom } from '../../src/chat/rooms.js'
import { tooManyRequests } from '../../src/errors.js'
import { authErrors, bearer, bodyErrors, errors, IdParams, Pagination } from '../../src/schemas/common.js'
import { HistoryQuery, MessageList } from '../../src/schemas/messages.js'
import { CreateRoomBody, JoinResponse, Room, RoomList } from '../../src/schemas/rooms.js'

const rooms: FastifyPluginAsyncTypebox<{ config: Config }> = async function (app, { config }) {
  app.addHook('onRequest', app.authenticate)

  app.post('', {
    // Per user (the global key, after authentication), counted apart from the global limit.
    config: {
      rateLimit: {
        max: config.rateLimit.rooms,
        timeWindow: 3_600_000,
        errorResponseBuilder: (_request, context) =>
          tooManyRequests(`Too many rooms created; retry in ${Math.ceil(context.ttl / 1000)} seconds`, context.ttl / 1000)
      }
    },
    schema: {
      operationId: 'createRoom',
      tags: ['rooms'],
      summary: 'Create a room; its creator is its first member',
      description: 'A user may create 20 rooms an hour by default (RATE_LIMIT_ROOMS); past that, 429 with Retry-After.',
      security: bearer,
      body: Type.Ref(CreateRoomBody),
      response: { 201: Type.Ref(Room, { description: 'Created' }), ...errors(...bodyErrors, ...authErrors) }
    }
  }, async (request, reply) => {
    const room = await createRoom(app, request.user.id, request.body)
    return await reply.code(201).send(room)
  })

  app.get('', {
    schema: {
      operationId: 'listRooms',
      tags: ['rooms'],
      summary: 'List rooms with their member counts',
      security: bearer,
      querystring: Pagination,
      response: { 200: Type.Ref(RoomList, { description: 'Rooms by id' }), ...errors(400, ...authErrors) }
    }
  }, async (request) => await listRooms(app.db, request.query))

  app.post('/:id/join', {
    schema: {
      operationId: 'joinRoom',
      tags: ['rooms'],
      summary: 'Join a room (joining twice is harmless)',
      security: bearer,
      params: IdParams,
      response: { 200: Type.Ref(JoinResponse, { description: 'Joined (or already a member)' }), ...errors(400, 404, ...authErrors) }
    }
  }, async (request) => {
    await joinRoom(app, request.user.id, request.params.id)
    return { message: 'Successfully joined room', room_id: request.params.id }
  })

  app.get('/:id/messages', {
    schema: {
      operationId: 'listRoomMessages',
      tags: ['messages'],
      summary: 'A page of the room\'s history, oldest first',
      description: '`offset` counts back from the newest message, so `limit=1&offset=0` is the newest. ' +
        '`before`/`after` (message ids) page from a cursor instead; `after` pages forward from that id. Members only.',
      security: bearer,
      params: IdParams,
      querystring: HistoryQuery,
      response: { 200: Type.Ref(MessageList, { description: 'Messages, oldest first' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request) => await roomHistory(app, request.user.id, request.params.id, request.query))
}

export default rooms
