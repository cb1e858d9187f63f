import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Config } from '../../src/config.js'
import { roomHistory } from '../../src/chat/messages.js'
import { listRooms } from '../../db/rooms.js'
import { markRead } from '../../src/chat/read-state.js'
import { createRoom, deleteRoom, getRoom, joinRoom, leaveRoom, updateRoom } from '../../src/chat/rooms.js'
import { roomEvents } from '../../src/chat/sync.js'
import { tooManyRequests } from '../../src/errors.js'
import { authErrors, bearer, bodyErrors, errors, IdParams } from '../../src/schemas/common.js'
import { HistoryQuery, MessageList } from '../../src/schemas/messages.js'
import { FeedFrameList } from '../../src/schemas/realtime.js'
import { CreateRoomBody, EventsQuery, JoinResponse, ReadBody, ReadState, Room, RoomList, RoomsQuery, UpdateRoomBody } from '../../src/schemas/rooms.js'
import inviteRoutes from './invites.js'
import memberRoutes from './members.js'

const rooms: FastifyPluginAsyncTypebox<{ config: Config }> = async function (app, { config }) {
  app.addHook('onRequest', app.authenticate)
  app.register(memberRoutes, { config })

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
      summary: 'List the rooms you can see, with their member counts',
      security: bearer,
      description: 'Public rooms and the private rooms you are in (DMs are in `GET /users/me/rooms`), by id. `q` keeps the rooms whose name contains it (case-insensitive).',
      querystring: RoomsQuery,
      response: { 200: Type.Ref(RoomList, { description: 'Rooms by id' }), ...errors(400, ...authErrors) }
    }
  }, async (request) => await listRooms(app.db, request.user.id, request.query))

  app.get('/:id', {
    schema: {
      operationId: 'getRoom',
      tags: ['rooms'],
      summary: 'A room, with its member count and your role in it',
      description: 'Anyone may read a public room; a private one only its members and the users invited to it. ' +
        'For anyone else a private room is 404 ROOM_NOT_FOUND, the same answer as an id that does not exist (site admins included).',
      security: bearer,
      params: IdParams,
      response: { 200: Type.Ref(Room, { description: 'The room as you see it (`my_role` null when you are not a member)' }), ...errors(400, 404, ...authErrors) }
    }
  }, async (request) => await getRoom(app, request.user.id, request.params.id))

  app.patch('/:id', {
    schema: {
      operationId: 'updateRoom',
      tags: ['rooms'],
      summary: 'Rename a room, change its description or its privacy',
      description: 'The owner may change every field; moderators the name and description (a change of `is_private` by a moderator is 403 NOT_ALLOWED; ' +
        'sending the value it already has is no change). Anyone else is 403 NOT_ALLOWED, a direct-message room 403 DIRECT_ROOM, and a private room you cannot see 404. ' +
        'The name follows the create rules (1 to 255 characters after trimming); an empty or null description removes it. ' +
        'The room\'s feed gets `room:updated {seq, room_id, room}` (`room.my_role` null: the frame is the same for every member); ' +
        'a request that changes nothing answers 200 and publishes nothing.',
      security: bearer,
      params: IdParams,
      body: Type.Ref(UpdateRoomBody),
      response: { 200: Type.Ref(Room, { description: 'The room as it is now' }), ...errors(...bodyErrors, 403, 404, ...authErrors) }
    }
  }, async (request) => await updateRoom(app, request.user.id, request.params.id, request.body))

  app.delete('/:id', {
    schema: {
      operationId: 'deleteRoom',
      tags: ['rooms'],
      summary: 'Delete a room with everything in it',
      description: 'Its owner, or a site admin (any room, member or not). A direct-message room has no owner: only a site admin deletes one (its members get 403 DIRECT_ROOM). ' +
        'Anyone else is 403 NOT_ALLOWED, and a private room you cannot see 404. Its messages, reactions, feed, members, invites and bans go with it. ' +
        'Every socket listening to it, on every instance, gets `room:deleted {room_id}` and nothing more from it.',
      security: bearer,
      params: IdParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request, reply) => {
    await deleteRoom(app, request.user, request.params.id)
    return await reply.code(204).send(null)
  })

  app.post('/:id/join', {
    schema: {
      operationId: 'joinRoom',
      tags: ['rooms'],
      summary: 'Join a room (joining twice is harmless)',
      security: bearer,
      params: IdParams,
      response: { 200: Type.Ref(JoinResponse, { description: 'Joined (or already a member)' }), ...errors(400, 403, 404, ...authErrors) }
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

  app.post('/:id/leave', {
    schema: {
      operationId: 'leaveRoom',
      tags: ['rooms'],
      summary: 'Leave a room',
      description: 'The feed gets `member:left` (reason `left`); from that seq nothing of the room reaches your sockets (they get `room:removed`). ' +
        'An owner who leaves hands the room to the member who has been in it longest (`member:updated`). Not a member: 403.',
      security: bearer,
      params: IdParams,
      response: { 204: Type.Null({ description: 'Left' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request, reply) => {
    await leaveRoom(app, request.user.id, request.params.id)
    return await reply.code(204).send(null)
  })

  app.post('/:id/read', {
    schema: {
      operationId: 'markRoomRead',
      tags: ['rooms'],
      summary: 'Move your read marker',
      description: 'The marker only moves forward (a lower seq changes nothing) and stops at the room\'s last seq. Your other sockets get `read` with the same body. ' +
        'Sending a message moves your marker past it by itself. Members only.',
      security: bearer,
      params: IdParams,
      body: Type.Ref(ReadBody),
      response: { 200: Type.Ref(ReadState, { description: 'Your read state in the room now' }), ...errors(...bodyErrors, 403, 404, ...authErrors) }
    }
  }, async (request) => await markRead(app, request.user.id, request.params.id, request.body.seq))

  app.get('/:id/events', {
    schema: {
      operationId: 'listRoomEvents',
      tags: ['rooms'],
      summary: 'The room\'s feed after a seq, oldest first',
      description: 'The same frames a socket gets live and from `sync`, as `[{type, payload}]`, for clients without a socket: every change after `after`, ' +
        'messages in their current state (edits applied, tombstones for deletes). Members only.',
      security: bearer,
      params: IdParams,
      querystring: EventsQuery,
      response: { 200: Type.Ref(FeedFrameList, { description: 'Feed frames, oldest first' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request) => await roomEvents(app, request.user.id, request.params.id, request.query))

  app.register(inviteRoutes)
}

export default rooms
