import { Type, type Static } from '@sinclair/typebox'
import { Id, NO_NUL, Pagination, Timestamp } from './common.js'

export const MAX_CONTENT = 4000

export const Message = Type.Object({
  id: Id,
  room_id: Id,
  user_id: Type.Union([Id, Type.Null()], { description: 'The author, or null once that user is gone' }),
  username: Type.Union([Type.String(), Type.Null()], { examples: ['johndoe'] }),
  content: Type.String({ examples: ['Hello, everyone!'] }),
  created_at: Timestamp
}, { $id: 'Message', title: 'Message' })

export const MessageList = Type.Array(Type.Ref(Message), { $id: 'MessageList', title: 'MessageList' })

export const SendMessageBody = Type.Object({
  room_id: Id,
  content: Type.String({ minLength: 1, maxLength: MAX_CONTENT, pattern: NO_NUL, description: '1 to 4,000 characters after trimming; no NUL', examples: ['Hello, everyone!'] })
}, { $id: 'SendMessageRequest', title: 'SendMessageRequest', additionalProperties: false })

export const HistoryQuery = Type.Composite([Pagination, Type.Object({
  before: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'Only messages older than this message id' })),
  after: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'Only messages newer than this message id (the page then starts just after it)' }))
})])

export type SendMessageInput = Static<typeof SendMessageBody>
export type MessageView = Static<typeof Message>
