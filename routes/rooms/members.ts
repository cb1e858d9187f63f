import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Config } from '../../src/config.js'
import { banUser, changeRole, kickMember, muteMember, roomBans, roomMembers, unbanUser, unmuteMember } from '../../src/chat/moderation.js'
import { authErrors, bearer, bodyErrors, errors, IdParams, Pagination } from '../../src/schemas/common.js'
import { MemberParams, MuteBody, RoomBanList, RoomMember, RoomMemberList, UpdateMemberBody } from '../../src/schemas/rooms.js'

/** What every moderation route says about who may call it. */
const RULES = 'Moderation never reaches up: a moderator acts on plain members only, the owner on anyone but themself, and nobody on themself (403 NOT_ALLOWED); ' +
  'a plain member may not (403 NOT_ALLOWED). In a DM: 403 DIRECT_ROOM. A private room you cannot see: 404 ROOM_NOT_FOUND; a public one you are not in: 403 NOT_A_MEMBER.'

/**
 * Room moderation (CONTRACT.md Part 2, "Rooms"): members and their roles, kicks, bans, mutes.
 * Registered by routes/rooms/index.ts, whose `authenticate` hook covers these routes too.
 */
const members: FastifyPluginAsyncTypebox<{ config: Config }> = async function (app) {
  app.get('/:id/members', {
    schema: {
      operationId: 'listRoomMembers',
      tags: ['rooms'],
      summary: 'A page of the room\'s members, in the order they joined',
      description: '`muted_until` is null when the member is not muted or the mute has ended. Members only (a private room you cannot see: 404; a public one you are not in: 403 NOT_A_MEMBER). A DM lists its two members.',
      security: bearer,
      params: IdParams,
      querystring: Pagination,
      response: { 200: Type.Ref(RoomMemberList, { description: 'Members, in the order they joined' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request) => await roomMembers(app, request.user.id, request.params.id, request.query))

  app.patch('/:id/members/:user_id', {
    schema: {
      operationId: 'updateRoomMember',
      tags: ['rooms'],
      summary: 'Change a member\'s role (the owner only)',
      description: '`moderator` or `member`; `owner` hands the room over, and you become a moderator (the feed gets two `member:updated`: theirs, then yours). ' +
        'The role they have already: 200, nothing published. Not the owner, or your own role: 403 NOT_ALLOWED; not a member: 404 MEMBER_NOT_FOUND; a DM: 403 DIRECT_ROOM.',
      security: bearer,
      params: MemberParams,
      body: Type.Ref(UpdateMemberBody),
      response: { 200: Type.Ref(RoomMember, { description: 'The member with their role now' }), ...errors(...bodyErrors, 403, 404, ...authErrors) }
    }
  }, async (request) => await changeRole(app, request.user.id, request.params.id, request.params.user_id, request.body.role))

  app.delete('/:id/members/:user_id', {
    schema: {
      operationId: 'kickRoomMember',
      tags: ['rooms'],
      summary: 'Kick a member out of the room',
      description: 'The feed gets `member:left` (reason `kicked`); their sockets get `room:removed` and nothing of the room after it. They may join a public room again. ' +
        'Not a member: 404 MEMBER_NOT_FOUND. ' + RULES,
      security: bearer,
      params: MemberParams,
      response: { 204: Type.Null({ description: 'Kicked' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request, reply) => {
    await kickMember(app, request.user.id, request.params.id, request.params.user_id)
    return await reply.code(204).send(null)
  })

  app.get('/:id/bans', {
    schema: {
      operationId: 'listRoomBans',
      tags: ['rooms'],
      summary: 'A page of the room\'s bans, oldest first (owner, moderators)',
      description: 'A plain member: 403 NOT_ALLOWED; a private room you cannot see: 404; a public one you are not in: 403 NOT_A_MEMBER; a DM: 403 DIRECT_ROOM.',
      security: bearer,
      params: IdParams,
      querystring: Pagination,
      response: { 200: Type.Ref(RoomBanList, { description: 'Bans, oldest first' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request) => await roomBans(app, request.user.id, request.params.id, request.query))

  app.put('/:id/bans/:user_id', {
    schema: {
      operationId: 'banRoomUser',
      tags: ['rooms'],
      summary: 'Ban a user from the room (member or not)',
      description: 'A member is removed (the feed gets `member:left`, reason `banned`; their sockets get `room:removed`), any invite of theirs is cancelled, ' +
        'and joining (403 BANNED) and being invited are refused until the ban is lifted. Banned already: 204, nothing changes. No such user: 404 USER_NOT_FOUND. ' + RULES,
      security: bearer,
      params: MemberParams,
      response: { 204: Type.Null({ description: 'Banned' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request, reply) => {
    await banUser(app, request.user.id, request.params.id, request.params.user_id)
    return await reply.code(204).send(null)
  })

  app.delete('/:id/bans/:user_id', {
    schema: {
      operationId: 'unbanRoomUser',
      tags: ['rooms'],
      summary: 'Lift a ban',
      description: 'They may join (a public room) or be invited again. Not banned: 204 anyway. ' + RULES,
      security: bearer,
      params: MemberParams,
      response: { 204: Type.Null({ description: 'Not banned (any more)' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request, reply) => {
    await unbanUser(app, request.user.id, request.params.id, request.params.user_id)
    return await reply.code(204).send(null)
  })

  app.put('/:id/mutes/:user_id', {
    schema: {
      operationId: 'muteRoomMember',
      tags: ['rooms'],
      summary: 'Mute a member: they read but cannot send, edit or react',
      description: 'For `minutes`, or until unmuted when it is omitted (body `{}`). Their sends, edits and reactions answer 403 MUTED until `muted_until`; ' +
        'a timed mute ends by itself. The feed gets `member:updated` with the new `muted_until`. A second mute replaces the first. Not a member: 404 MEMBER_NOT_FOUND. ' + RULES,
      security: bearer,
      params: MemberParams,
      body: Type.Ref(MuteBody),
      response: { 204: Type.Null({ description: 'Muted' }), ...errors(...bodyErrors, 403, 404, ...authErrors) }
    }
  }, async (request, reply) => {
    await muteMember(app, request.user.id, request.params.id, request.params.user_id, request.body.minutes)
    return await reply.code(204).send(null)
  })

  app.delete('/:id/mutes/:user_id', {
    schema: {
      operationId: 'unmuteRoomMember',
      tags: ['rooms'],
      summary: 'Lift a member\'s mute',
      description: 'The feed gets `member:updated` with `muted_until` null; not muted (or the mute has ended): 204, nothing published. Not a member: 404 MEMBER_NOT_FOUND. ' + RULES,
      security: bearer,
      params: MemberParams,
      response: { 204: Type.Null({ description: 'Not muted (any more)' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request, reply) => {
    await unmuteMember(app, request.user.id, request.params.id, request.params.user_id)
    return await reply.code(204).send(null)
  })
}

export default members
