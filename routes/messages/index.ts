import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { sendMessage } from '../../src/domain/messages.js'
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
      description: 'Stored, then pushed as `message:new` to every member\'s WebSocket. At most 30 sends per 10 seconds per user (REST and WebSocket together).',
      security: bearer,
      body: Type.Ref(SendMessageBody),
      response: { 201: Type.Ref(Message, { description: 'Stored' }), ...errors(...bodyErrors, 403, 404, ...authErrors) }
    }
  }, async (request, reply) => {
    const message = await sendMessage(app, request.user.id, request.body)
    return await reply.code(201).send(message)
  })
}

export default messages
