import { Type, type Static } from '@sinclair/typebox'
import { CLIENT_MSG_ID_MAX, CONTENT_MAX, INT32_MAX, PAGE_MAX, USERNAME_MAX } from '../limits.js'
import { Id, MAX_RAW_TEXT, NO_NUL, Pagination, Timestamp } from './common.js'

export const Message = Type.Object({
  id: Id,
  room_id: Id,
  user_id: Type.Union([Id, Type.Null()], { description: 'The author, or null once that user is gone' }),
  username: Type.Union([Type.String({ maxLength: USERNAME_MAX }), Type.Null()], { examples: ['johndoe'] }),
  content: Type.String({ minLength: 1, maxLength: CONTENT_MAX, examples: ['Hello, everyone!'] }),
  created_at: Timestamp,
  seq: Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX, description: 'Position in the room: 1, 2, 3, ... without gaps, in the order messages were stored. A client that saw seq n and then n + 2 missed one (send `sync` over the WebSocket).', examples: [42] }),
  client_msg_id: Type.Union([Type.String({ maxLength: CLIENT_MSG_ID_MAX }), Type.Null()], { description: 'The id the sender gave this send, if any (lets the sender match its own message:new to the send)' })
}, { $id: 'Message', title: 'Message' })

export const MessageList = Type.Array(Type.Ref(Message), { maxItems: PAGE_MAX, $id: 'MessageList', title: 'MessageList' })

export const SendMessageBody = Type.Object({
  room_id: Id,
  // The bound applies after trimming (the domain checks it), so the raw string is bounded only by the body limit.
  content: Type.String({ minLength: 1, maxLength: MAX_RAW_TEXT, pattern: NO_NUL, description: '1 to 4,000 characters after trimming (stored trimmed); no NUL', examples: ['Hello, everyone!'] }),
  client_msg_id: Type.Optional(Type.String({
    minLength: 1,
    maxLength: CLIENT_MSG_ID_MAX,
    pattern: NO_NUL,
    description: 'Your own id for this send (a UUID, say), unique among your sends. Retrying with the same id returns the original message (200) instead of storing a second one.',
    examples: ['6f1c2b4e-2a7d-4c1e-9a53-0c8a1f7e5b21']
  })),
  // A message of the same room that is not deleted, else 400 INVALID_REPLY_TO; a reply to a reply is stored with its thread's root.
  reply_to: Type.Optional(Id)
}, { $id: 'SendMessageRequest', title: 'SendMessageRequest', additionalProperties: false })

export const HistoryQuery = Type.Composite([Pagination, Type.Object({
  before: Type.Optional(Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX, description: 'Only messages older than this message id' })),
  after: Type.Optional(Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX, description: 'Only messages newer than this message id (the page then starts just after it)' }))
})])

export type SendMessageInput = Static<typeof SendMessageBody>
export type HistoryPage = Static<typeof HistoryQuery>
export type MessageView = Static<typeof Message>
