import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { openDm } from '../../src/chat/dms.js'
import { authErrors, bearer, bodyErrors, ErrorResponse, errors } from '../../src/schemas/common.js'
import { OpenDmBody, Room } from '../../src/schemas/rooms.js'

const dms: FastifyPluginAsyncTypebox = async function (app) {
  app.addHook('onRequest', app.authenticate)

  app.post('', {
    schema: {
      operationId: 'openDirectMessage',
      tags: ['rooms'],
      summary: 'Open (or find) your direct-message room with a user',
      description: 'A private room with `is_direct: true` whose only members are the two of you (role `member`, no owner): the same room from ' +
        'either side, and one per pair even when both open it at once. Its `name` is the two usernames as they were when it was first ' +
        'opened, the lower user id\'s first, joined by " & " ("alice & bob"); clients usually show the other member\'s current name instead. ' +
        'A new DM subscribes both users\' open sockets to it, and the other user\'s get `room:added {room}`; opening an existing one sends nothing. ' +
        'DMs are listed in `GET /users/me/rooms`, never in `GET /rooms`, and have no roles, invites, moderation, renames or leaving (403 DIRECT_ROOM). ' +
        'Refused: yourself (400 CANNOT_DM_SELF), an unknown or disabled user (404 USER_NOT_FOUND).',
      security: bearer,
      body: Type.Ref(OpenDmBody),
      response: {
        200: Type.Ref(Room, { description: 'Your existing DM with that user' }),
        201: Type.Ref(Room, { description: 'Created' }),
        404: Type.Ref(ErrorResponse, { description: 'No such user, or a disabled one (USER_NOT_FOUND)' }),
        ...errors(...bodyErrors, ...authErrors)
      }
    }
  }, async (request, reply) => {
    const { room, created } = await openDm(app, request.user.id, request.body.user_id)
    return await reply.code(created ? 201 : 200).send(room)
  })
}

export default dms
