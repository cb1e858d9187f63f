import { Type, type Static } from '@sinclair/typebox'
import { ATTACHMENTS_MAX, CLIENT_MSG_ID_MAX, CONTENT_MAX, INT32_MAX, PAGE_MAX, USERNAME_MAX } from '../limits.js'
import { Id, MAX_RAW_TEXT, NO_NUL, Pagination, Timestamp } from './common.js'

/** Emojis on one message, at most this many distinct ones. */
export const REACTIONS_MAX = 50

/** A reaction emoji: one Unicode emoji (ZWJ sequences, skin tones and flags included) or a short name. */
export const EMOJI_NAME = '^[a-z0-9_+-]{1,32}$'

export const Reaction = Type.Object({
  emoji: Type.String({ minLength: 1, maxLength: 64, description: 'One Unicode emoji, or a name matching `^[a-z0-9_+-]{1,32}$`', examples: ['👍', 'party_parrot'] }),
  count: Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX, description: 'How many users reacted with it' }),
  me: Type.Boolean({ description: 'Whether the caller is one of them' })
}, { $id: 'Reaction', title: 'Reaction' })

export const Attachment = Type.Object({
  id: Id,
  filename: Type.String({ maxLength: 255, description: 'For display only', examples: ['plan.pdf'] }),
  content_type: Type.String({ maxLength: 255, description: 'From the file\'s bytes, never from the client', examples: ['application/pdf'] }),
  size: Type.Integer({ format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Bytes' }),
  sha256: Type.String({ minLength: 64, maxLength: 64, pattern: '^[0-9a-f]{64}$' }),
  width: Type.Union([Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX }), Type.Null()], { description: 'Images only' }),
  height: Type.Union([Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX }), Type.Null()], { description: 'Images only' }),
  created_at: Timestamp
}, { $id: 'Attachment', title: 'Attachment' })

const Seq = Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX, description: 'Position in the room\'s feed: 1, 2, 3, ... without gaps. Every change members can see takes the next one (messages, edits, deletes, reactions, members): a client that saw n and then n + 2 missed a change (send `sync` over the WebSocket).', examples: [42] })

export const Message = Type.Object({
  id: Id,
  room_id: Id,
  user_id: Type.Union([Id, Type.Null()], { description: 'The author, or null once that user is gone' }),
  username: Type.Union([Type.String({ maxLength: USERNAME_MAX }), Type.Null()], { examples: ['johndoe'] }),
  content: Type.String({ maxLength: CONTENT_MAX, description: '1 to 4,000 characters; empty for a deleted message (a tombstone) and possibly for one with attachments', examples: ['Hello, everyone!'] }),
  created_at: Timestamp,
  seq: Seq,
  client_msg_id: Type.Union([Type.String({ maxLength: CLIENT_MSG_ID_MAX }), Type.Null()], { description: 'The id the sender gave this send, if any (lets the sender match its own message:new to the send)' }),
  edited_at: Type.Union([Timestamp, Type.Null()], { description: 'When its content was last edited (null: never)' }),
  deleted_at: Type.Union([Timestamp, Type.Null()], { description: 'When it was deleted (null: it was not). A deleted message is a tombstone: it keeps its place, with empty content, no reactions and no attachments' }),
  reply_to: Type.Union([Id, Type.Null()], { description: 'The thread root this message replies to (null: not a reply)' }),
  reply_count: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX, description: 'For a thread root: its replies that are not deleted' }),
  reactions: Type.Array(Type.Ref(Reaction), { maxItems: REACTIONS_MAX, description: 'In order of first use' }),
  attachments: Type.Array(Type.Ref(Attachment), { maxItems: ATTACHMENTS_MAX })
}, { $id: 'Message', title: 'Message' })

/** `PATCH /messages/{id}`: the new content (the send rules apply). */
export const EditMessageBody = Type.Object({
  content: Type.String({ minLength: 1, maxLength: MAX_RAW_TEXT, pattern: NO_NUL, description: '1 to 4,000 characters after trimming (stored trimmed); no NUL', examples: ['Hello, everyone! (edited)'] })
}, { $id: 'EditMessageRequest', title: 'EditMessageRequest', additionalProperties: false })

/** `PUT /messages/{id}/reactions/{emoji}`: the emoji's count after the change. */
export const ReactionResult = Type.Object({
  message_id: Id,
  emoji: Type.String({ maxLength: 64 }),
  count: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX }),
  me: Type.Boolean()
}, { $id: 'ReactionResult', title: 'ReactionResult' })

export const ReactionParams = Type.Object({
  id: Id,
  emoji: Type.String({ minLength: 1, maxLength: 64, description: 'URL-encoded: one Unicode emoji, or a name matching `^[a-z0-9_+-]{1,32}$`' })
})

/** `GET /messages/{id}/replies`: a page of a thread, oldest first, by seq. */
export const RepliesQuery = Type.Object({
  limit: Type.Integer({ format: 'int32', minimum: 1, maximum: PAGE_MAX, default: 50, description: `Page size, 1 to ${PAGE_MAX}` }),
  before: Type.Optional(Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX, description: 'Only replies with a seq below this (the page is the newest of them)' })),
  after: Type.Optional(Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX, description: 'Only replies with a seq above this (the page is the oldest of them)' }))
})

export const MessageList = Type.Array(Type.Ref(Message), { maxItems: PAGE_MAX, $id: 'MessageList', title: 'MessageList' })

export const SendMessageBody = Type.Object({
  room_id: Id,
  // The bound applies after trimming (the domain checks it), so the raw string is bounded only by the body limit.
  content: Type.String({ maxLength: MAX_RAW_TEXT, pattern: NO_NUL, description: '1 to 4,000 characters after trimming (stored trimmed); no NUL. May be empty when the send carries attachments', examples: ['Hello, everyone!'] }),
  client_msg_id: Type.Optional(Type.String({
    minLength: 1,
    maxLength: CLIENT_MSG_ID_MAX,
    pattern: NO_NUL,
    description: 'Your own id for this send (a UUID, say), unique among your sends. Retrying with the same id returns the original message (200) instead of storing a second one.',
    examples: ['6f1c2b4e-2a7d-4c1e-9a53-0c8a1f7e5b21']
  })),
  // A message of the same room that is not deleted, else 400 INVALID_REPLY_TO; a reply to a reply is stored with its thread's root.
  reply_to: Type.Optional(Id),
  attachment_ids: Type.Optional(Type.Array(Id, {
    // The bound of 10 is the domain's (400 INVALID_ATTACHMENT, as for any other id that may not be attached); this one only keeps bodies small.
    maxItems: PAGE_MAX,
    description: `Your own uploads (POST /attachments) not attached yet, at most ${ATTACHMENTS_MAX}, else 400 INVALID_ATTACHMENT. With at least one, \`content\` may be empty`
  }))
}, { $id: 'SendMessageRequest', title: 'SendMessageRequest', additionalProperties: false })

export const HistoryQuery = Type.Composite([Pagination, Type.Object({
  before: Type.Optional(Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX, description: 'Only messages older than this message id' })),
  after: Type.Optional(Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX, description: 'Only messages newer than this message id (the page then starts just after it)' }))
})])

export type SendMessageInput = Static<typeof SendMessageBody>
export type HistoryPage = Static<typeof HistoryQuery>
export type MessageView = Static<typeof Message>
export type AttachmentView = Static<typeof Attachment>
export type ReactionView = Static<typeof Reaction>
export type EditMessageInput = Static<typeof EditMessageBody>
