import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { inviteToRoom, removeInvite } from '../../src/chat/invites.js'
import { authErrors, bearer, bodyErrors, ErrorResponse, errors, IdParams } from '../../src/schemas/common.js'
import { InviteBody, InviteParams, RoomInvite } from '../../src/schemas/rooms.js'

/** `/rooms/{id}/invites`: registered inside the rooms plugin (its prefix and authentication). */
const invites: FastifyPluginAsyncTypebox = async function (app) {
  app.post('/:id/invites', {
    schema: {
      operationId: 'inviteToRoom',
      tags: ['rooms'],
      summary: 'Invite a user to a room',
      description: 'Members may invite to public and private rooms; an invitee of a private room sees it and may join it (which uses the invite up). ' +
        'The invitee\'s sockets get `room:invited {room, invited_by}`. Inviting someone who already has an invite answers 200 with that invite ' +
        'as it was and notifies nobody again. Refused: yourself (400 CANNOT_INVITE_SELF), an unknown or disabled user (404 USER_NOT_FOUND), ' +
        'a member (409 ALREADY_MEMBER), a user banned from the room (403 BANNED), a DM (403 DIRECT_ROOM), not a member (403 NOT_A_MEMBER; ' +
        'a private room you cannot see is 404 ROOM_NOT_FOUND). Muted members may still invite.',
      security: bearer,
      params: IdParams,
      body: Type.Ref(InviteBody),
      response: {
        200: Type.Ref(RoomInvite, { description: 'The user was already invited: the invite as it was (no second notification)' }),
        201: Type.Ref(RoomInvite, { description: 'Invited' }),
        403: Type.Ref(ErrorResponse, { description: 'Not a member (NOT_A_MEMBER), the user is banned from the room (BANNED), or the room is a DM (DIRECT_ROOM)' }),
        404: Type.Ref(ErrorResponse, { description: 'No such room, or a private one you cannot see (ROOM_NOT_FOUND); no such user, or a disabled one (USER_NOT_FOUND)' }),
        409: Type.Ref(ErrorResponse, { description: 'The user is already a member (ALREADY_MEMBER)' }),
        ...errors(...bodyErrors, ...authErrors)
      }
    }
  }, async (request, reply) => {
    const { invite, created } = await inviteToRoom(app, request.user.id, request.params.id, request.body.user_id)
    return await reply.code(created ? 201 : 200).send(invite)
  })

  app.delete('/:id/invites/:user_id', {
    schema: {
      operationId: 'removeRoomInvite',
      tags: ['rooms'],
      summary: 'Decline or withdraw an invite',
      description: 'The invitee declines; the inviter, the room\'s owner or a moderator withdraws. Anyone else: 403 NOT_ALLOWED. ' +
        'No such invite: 404 INVITE_NOT_FOUND. An invitee who declines a private room no longer sees it (404 ROOM_NOT_FOUND). No frame is sent.',
      security: bearer,
      params: InviteParams,
      response: {
        204: Type.Null({ description: 'The invite is gone' }),
        403: Type.Ref(ErrorResponse, { description: 'Not the invitee, the inviter, the owner or a moderator (NOT_ALLOWED), or the room is a DM (DIRECT_ROOM)' }),
        404: Type.Ref(ErrorResponse, { description: 'No such room, or a private one you cannot see (ROOM_NOT_FOUND); no such invite (INVITE_NOT_FOUND)' }),
        ...errors(400, ...authErrors)
      }
    }
  }, async (request, reply) => {
    await removeInvite(app, request.user.id, request.params.id, request.params.user_id)
    return await reply.code(204).send(null)
  })
}

export default invites
