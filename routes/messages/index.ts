import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { sendMessage } from '../../src/chat/messages.js'
import { authErrors, bearer, bodyErrors, errors } from '../../src/schemas/common.js'
import { Message, SendMessageBody } from '../../src/schemas/messages.js'

const messages: FastifyPluginAsyncTypebox = async function (app) {
  app.post('', {
    onRequest: app.authenticate,
    preHandler: async request => { await app.checkSendLimit(request) },
    schema: {
      operationId: 'sendMessage',
      tags: ['messages'],
      summary: 'Send a message to a room you are a member of',
      description: 'Stored, then pushed as `message:new` to every member\'s WebSocket. At most 30 sends per 10 seconds per user (REST and WebSocket together). ' +
        'With `client_msg_id`, a retry of the same send (same id, room and content) answers 200 with the original message and stores and pushes nothing; ' +
        'the same id with a different room or content is 409.',
      security: bearer,
      body: Type.Ref(SendMessageBody),
      response: {
        200: Type.Ref(Message, { description: 'A retry (same client_msg_id): the message stored the first time' }),
        201: Type.Ref(Message, { description: 'Stored' }),
        ...errors(...bodyErrors, 403, 404, 409, ...authErrors)
      }
    }
  }, async (request, reply) => {
    const { message, created } = await sendMessage(app, request.user.id, request.body)
    return await reply.code(created ? 201 : 200).send(message)
  })
}

export default messages
