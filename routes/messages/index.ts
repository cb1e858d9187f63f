import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Config } from '../../src/config.js'
import { deleteMessage, editMessage, sendMessage, threadReplies } from '../../src/chat/messages.js'
import { addReaction, removeReaction } from '../../src/chat/reactions.js'
import { authErrors, bearer, bodyErrors, errors, IdParams } from '../../src/schemas/common.js'
import { EditMessageBody, Message, MessageList, ReactionParams, ReactionResult, RepliesQuery, SendMessageBody } from '../../src/schemas/messages.js'

const NOT_READABLE = 'A message you cannot read (no such id, or a room you are not a member of) is 404 MESSAGE_NOT_FOUND: ids never reveal other rooms.'

const messages: FastifyPluginAsyncTypebox<{ config: Config }> = async function (app, { config }) {
  app.addHook('onRequest', app.authenticate)

  app.post('', {
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

  app.patch('/:id', {
    schema: {
      operationId: 'editMessage',
      tags: ['messages'],
      summary: 'Edit your message',
      description: 'The author only (403 NOT_AUTHOR), within MESSAGE_EDIT_WINDOW seconds of sending when it is set (403 EDIT_WINDOW_PASSED); ' +
        'a deleted message is 409 MESSAGE_DELETED. The content follows the send rules. The room\'s feed gets `message:updated`; ' +
        'unchanged content answers 200 and publishes nothing. ' + NOT_READABLE,
      security: bearer,
      params: IdParams,
      body: Type.Ref(EditMessageBody),
      response: { 200: Type.Ref(Message, { description: 'The message as edited' }), ...errors(...bodyErrors, 403, 404, 409, ...authErrors) }
    }
  }, async (request) => await editMessage(app, request.user.id, request.params.id, request.body, config.messages.editWindowMs))

  app.delete('/:id', {
    schema: {
      operationId: 'deleteMessage',
      tags: ['messages'],
      summary: 'Delete a message (it stays as a tombstone)',
      description: 'Its author, the room\'s owner and moderators, and site admins (in any room) may (403 NOT_ALLOWED otherwise). ' +
        'The message keeps its place with empty content and no reactions; the feed gets `message:deleted`. Deleting it again: 204, nothing published. ' + NOT_READABLE,
      security: bearer,
      params: IdParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errors(400, 403, 404, ...authErrors) }
    }
  }, async (request, reply) => {
    await deleteMessage(app, request.user, request.params.id)
    return await reply.code(204).send(null)
  })

  app.put('/:id/reactions/:emoji', {
    schema: {
      operationId: 'addReaction',
      tags: ['messages'],
      summary: 'React to a message',
      description: '`emoji` (URL-encoded) is one Unicode emoji (ZWJ sequences, skin tones and flags included) or a name matching `^[a-z0-9_+-]{1,32}$`; anything else is 400 INVALID_EMOJI. ' +
        'Members only. The feed gets `reaction:added`; reacting again answers 200 and publishes nothing. At most 50 different emojis on a message (409 TOO_MANY_REACTIONS); ' +
        'a deleted message is 409 MESSAGE_DELETED; while you are muted in the room, 403 MUTED. ' + NOT_READABLE,
      security: bearer,
      params: ReactionParams,
      response: { 200: Type.Ref(ReactionResult, { description: 'The emoji\'s count now' }), ...errors(400, 403, 404, 409, ...authErrors) }
    }
  }, async (request) => await addReaction(app, request.user.id, request.params.id, request.params.emoji))

  app.delete('/:id/reactions/:emoji', {
    schema: {
      operationId: 'removeReaction',
      tags: ['messages'],
      summary: 'Take your reaction back',
      description: 'Members only. The feed gets `reaction:removed`; when you had not reacted with it: 204, nothing published. ' + NOT_READABLE,
      security: bearer,
      params: ReactionParams,
      response: { 204: Type.Null({ description: 'Removed (or was not there)' }), ...errors(400, 404, ...authErrors) }
    }
  }, async (request, reply) => {
    await removeReaction(app, request.user.id, request.params.id, request.params.emoji)
    return await reply.code(204).send(null)
  })

  app.get('/:id/replies', {
    schema: {
      operationId: 'listReplies',
      tags: ['messages'],
      summary: 'A page of a thread\'s replies, oldest first',
      description: 'The replies of the message\'s thread (for a reply, its root\'s thread), deleted ones as tombstones. ' +
        'Without a cursor, the newest `limit`; `before`/`after` (seqs) page backwards or forwards. Members only. ' + NOT_READABLE,
      security: bearer,
      params: IdParams,
      querystring: RepliesQuery,
      response: { 200: Type.Ref(MessageList, { description: 'Replies, oldest first' }), ...errors(400, 404, ...authErrors) }
    }
  }, async (request) => await threadReplies(app, request.user.id, request.params.id, request.query))
}

export default messages
