import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Id, ID_TEXT, Timestamp } from './common.js'
import { Message, SendMessageBody } from './messages.js'
import { ReadState, Room, RoomRole } from './rooms.js'
import { CONTENT_MAX, INT32_MAX, USERNAME_MAX } from '../limits.js'

/**
 * The WebSocket protocol at `GET /ws`: every frame, both ways, is `{"type", "payload"}`.
 * The payload schemas below validate what clients send; the server's frames use the same shapes
 * as the REST responses (`Message`, `Error`).
 */

/** What every frame looks like before its type is known. Extra top-level fields are ignored. */
export const Frame = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 64, description: 'The event name, such as `message:send`' }),
  payload: Type.Optional(Type.Unknown({ description: 'The event\'s data; its shape depends on `type`' }))
}, { $id: 'Frame', title: 'Frame' })

/** `message:send`: the same body as `POST /api/v1/messages`. */
export const MessageSendPayload = SendMessageBody

/** `room:join`: joins the room (as `POST /api/v1/rooms/{id}/join`) and subscribes the socket. */
export const RoomJoinPayload = Type.Object({
  room_id: Id
}, { $id: 'RoomJoinPayload', title: 'RoomJoinPayload', additionalProperties: false })

/** Most rooms one `sync` frame may name. */
export const MAX_SYNC_ROOMS = 500
/** Most feed frames one catch-up sends for a room; further behind, the client gets `sync:reset`. */
export const MAX_CATCH_UP = 1000

/**
 * `sync`: after a reconnect, the last `seq` the client has per room (0: none). The server sends,
 * per room, every feed frame after it in order, as it was sent live but showing each message's
 * current state (edits applied, tombstones for deletes) — or `sync:reset` when more than 1,000 are
 * missing —, then `sync:done`; live frames follow with no gap and no duplicate.
 */
export const SyncPayload = Type.Object({
  rooms: Type.Record(
    Type.String({ pattern: ID_TEXT }),
    Type.Integer({ minimum: 0, maximum: INT32_MAX, description: 'The last seq the client has in that room' }),
    {
      maxProperties: MAX_SYNC_ROOMS,
      // Refused, not dropped (the validator drops fields a schema doesn't name): a key that is not a room id is a 400.
      propertyNames: { pattern: ID_TEXT },
      additionalProperties: false,
      description: 'room id (1 to 2147483647) -> last seq the client has',
      examples: [{ 1: 41, 7: 0 }]
    }
  )
}, { $id: 'SyncPayload', title: 'SyncPayload', additionalProperties: false })

/** Typing events a user may have forwarded per room: at most one per this many milliseconds; the rest are dropped. */
export const TYPING_INTERVAL_MS = 2000

/**
 * `typing`: the user is typing in the room (members only). The room's other members get
 * `typing {room_id, user_id, username}`; nothing is stored. At most one per user and room is
 * forwarded every 2 seconds; the others are dropped silently (send it every few seconds while typing).
 */
export const TypingPayload = Type.Object({
  room_id: Id
}, {
  $id: 'TypingPayload',
  title: 'TypingPayload',
  additionalProperties: false,
  description: 'Members only, checked when the frame is handled: anyone else gets an `error` frame every time (404 ROOM_NOT_FOUND for a room they may not see, ' +
    '403 NOT_A_MEMBER for a public room). A member\'s typing past one per 2 seconds per room is dropped without an answer.'
})

/** `presence:get`: asks who in the room is online; answered with `presence:list` (members only). */
export const PresenceGetPayload = Type.Object({
  room_id: Id
}, { $id: 'PresenceGetPayload', title: 'PresenceGetPayload', additionalProperties: false })

/** Client -> server frames, by type: the payload schema each one must match. */
export const clientPayloads = {
  'message:send': MessageSendPayload,
  'room:join': RoomJoinPayload,
  sync: SyncPayload,
  typing: TypingPayload,
  'presence:get': PresenceGetPayload
} satisfies Record<string, TSchema>

export type ClientFrameType = keyof typeof clientPayloads
export type ClientPayload<T extends ClientFrameType> = Static<(typeof clientPayloads)[T]>
/** A client's frame once its payload passed its schema. */
export type ClientFrame = { [T in ClientFrameType]: { type: T, payload: ClientPayload<T> } }[ClientFrameType]

/** `error`: a frame was refused; the socket stays open. `code` is a stable machine word. */
export const ErrorPayload = Type.Object({
  error: Type.String({ description: 'A sentence for a person', examples: ['room_id must be a positive integer'] }),
  code: Type.Optional(Type.String({ description: 'A stable machine word', examples: ['VALIDATION_ERROR', 'NOT_A_MEMBER', 'RATE_LIMITED'] })),
  retry_after: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds to wait before retrying (rate limited)' })),
  room_id: Type.Optional(Type.Integer({ minimum: 1, description: 'The room a `sync` entry was refused for' }))
}, { $id: 'ErrorPayload', title: 'ErrorPayload' })

/** `room:joined`: the `room:join` succeeded; this socket (and the user's others) now get the room's messages. */
export const RoomJoinedPayload = Type.Object({ room_id: Id }, { $id: 'RoomJoinedPayload', title: 'RoomJoinedPayload' })

/** `sync:reset`: more than 1,000 feed frames are missing in the room; fetch its history over REST instead. */
export const SyncResetPayload = Type.Object({ room_id: Id }, { $id: 'SyncResetPayload', title: 'SyncResetPayload' })

/** `sync:done`: the catch-up is sent; per room, the last seq the client now has (reset rooms are left out). */
export const SyncDonePayload = Type.Object({
  rooms: Type.Record(Type.String({ pattern: '^[1-9][0-9]*$' }), Type.Integer({ minimum: 0 }))
}, { $id: 'SyncDonePayload', title: 'SyncDonePayload' })

/** `typing` (server -> client): another member is typing in the room. Ephemeral: never stored, never replayed by `sync`. */
export const TypingEventPayload = Type.Object({
  room_id: Id,
  user_id: Id,
  username: Type.String({ description: 'The typing user\'s username' })
}, { $id: 'TypingEventPayload', title: 'TypingEventPayload' })

/**
 * `presence`: a member of the room came online (their first socket opened, on any instance) or
 * went offline (their last one closed). A user is not sent their own presence.
 */
export const PresencePayload = Type.Object({
  room_id: Id,
  user_id: Id,
  username: Type.String({ description: 'The user\'s username' }),
  status: Type.Union([Type.Literal('online'), Type.Literal('offline')], { description: 'online: at least one socket open; offline: none' })
}, { $id: 'PresencePayload', title: 'PresencePayload' })

/** `presence:list`: the members of the room who are online now; after `room:joined`, and in answer to `presence:get`. */
export const PresenceListPayload = Type.Object({
  room_id: Id,
  user_ids: Type.Array(Id, { description: 'Ids of the members with at least one open socket (the asking user included), ascending' })
}, { $id: 'PresenceListPayload', title: 'PresenceListPayload' })

const Seq = Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX, description: 'The change\'s position in the room\'s feed' })

/** `message:updated` (feed): a message's content was edited. Replayed with the message's current content (empty once deleted). */
export const MessageUpdatedPayload = Type.Object({
  seq: Seq,
  room_id: Id,
  message_id: Id,
  content: Type.String({ maxLength: CONTENT_MAX, description: 'The content now' }),
  edited_at: Type.Union([Timestamp, Type.Null()])
}, { $id: 'MessageUpdatedPayload', title: 'MessageUpdatedPayload' })

/** `message:deleted` (feed): a message became a tombstone. */
export const MessageDeletedPayload = Type.Object({
  seq: Seq,
  room_id: Id,
  message_id: Id
}, { $id: 'MessageDeletedPayload', title: 'MessageDeletedPayload' })

/** `reaction:added` / `reaction:removed` (feed): `count` is that emoji's count on the message after the change. */
export const ReactionEventPayload = Type.Object({
  seq: Seq,
  room_id: Id,
  message_id: Id,
  user_id: Id,
  emoji: Type.String({ maxLength: 64 }),
  count: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX })
}, { $id: 'ReactionEventPayload', title: 'ReactionEventPayload' })

/** `member:joined` (feed): someone became a member. */
export const MemberJoinedPayload = Type.Object({
  seq: Seq,
  room_id: Id,
  user: Type.Object({ id: Id, username: Type.Union([Type.String({ maxLength: USERNAME_MAX }), Type.Null()]) }),
  role: Type.Ref(RoomRole)
}, { $id: 'MemberJoinedPayload', title: 'MemberJoinedPayload' })

/** `member:left` (feed): someone stopped being a member. Their own sockets get `room:removed` instead. */
export const MemberLeftPayload = Type.Object({
  seq: Seq,
  room_id: Id,
  user_id: Id,
  reason: Type.Union([Type.Literal('left'), Type.Literal('kicked'), Type.Literal('banned')])
}, { $id: 'MemberLeftPayload', title: 'MemberLeftPayload' })

/** `member:updated` (feed): a member's role or mute changed. */
export const MemberUpdatedPayload = Type.Object({
  seq: Seq,
  room_id: Id,
  user_id: Id,
  role: Type.Ref(RoomRole),
  muted_until: Type.Union([Timestamp, Type.Null()])
}, { $id: 'MemberUpdatedPayload', title: 'MemberUpdatedPayload' })

/** `room:updated` (feed): the room's name, description or privacy changed. */
export const RoomUpdatedPayload = Type.Object({
  seq: Seq,
  room_id: Id,
  room: Type.Ref(Room)
}, {
  $id: 'RoomUpdatedPayload',
  title: 'RoomUpdatedPayload',
  description: 'The room as it was stored by that change (`sync` and `GET /rooms/{id}/events` replay it so), with `my_role` null: the frame is the same for every member'
})

/** `room:removed` (not in the feed): this user is no longer a member; nothing more of the room reaches their sockets. */
export const RoomRemovedPayload = Type.Object({
  room_id: Id,
  reason: Type.Union([Type.Literal('left'), Type.Literal('kicked'), Type.Literal('banned')])
}, { $id: 'RoomRemovedPayload', title: 'RoomRemovedPayload' })

/** `room:invited` (to the invitee's sockets, not in the feed): someone invited you to a room. */
export const RoomInvitedPayload = Type.Object({
  room: Type.Ref(Room),
  invited_by: Id
}, { $id: 'RoomInvitedPayload', title: 'RoomInvitedPayload' })

/** `room:added` (to your sockets, not in the feed): someone else made you a member (a DM opened with you); your sockets now get its frames. */
export const RoomAddedPayload = Type.Object({
  room: Type.Ref(Room)
}, { $id: 'RoomAddedPayload', title: 'RoomAddedPayload' })

/** `room:deleted` (to every member's sockets, not in the feed): the room and its messages are gone. */
export const RoomDeletedPayload = Type.Object({
  room_id: Id
}, {
  $id: 'RoomDeletedPayload',
  title: 'RoomDeletedPayload',
  description: 'To every socket listening to the room, on every instance; nothing of the room follows it (its feed is gone: a `sync` of it answers 404)'
})

/** Server -> client frames. */
export const serverPayloads = {
  'message:new': Message,
  'message:updated': MessageUpdatedPayload,
  'message:deleted': MessageDeletedPayload,
  'reaction:added': ReactionEventPayload,
  'reaction:removed': ReactionEventPayload,
  'member:joined': MemberJoinedPayload,
  'member:left': MemberLeftPayload,
  'member:updated': MemberUpdatedPayload,
  'room:updated': RoomUpdatedPayload,
  'room:removed': RoomRemovedPayload,
  'room:invited': RoomInvitedPayload,
  'room:added': RoomAddedPayload,
  'room:deleted': RoomDeletedPayload,
  read: ReadState,
  'room:joined': RoomJoinedPayload,
  'sync:reset': SyncResetPayload,
  'sync:done': SyncDonePayload,
  typing: TypingEventPayload,
  presence: PresencePayload,
  'presence:list': PresenceListPayload,
  error: ErrorPayload
} satisfies Record<string, TSchema>

export type ServerFrameType = keyof typeof serverPayloads
export type ServerPayload<T extends ServerFrameType> = Static<(typeof serverPayloads)[T]>
/** Frames of the room feed: each takes the room's next seq and is replayed by `sync`. */
export const FEED_FRAME_TYPES = ['message:new', 'message:updated', 'message:deleted', 'reaction:added', 'reaction:removed', 'member:joined', 'member:left', 'member:updated', 'room:updated'] as const
export type FeedFrameType = typeof FEED_FRAME_TYPES[number]
/** `GET /rooms/{id}/events`: feed frames as the sockets get them. */
export const FeedFrameList = Type.Array(Type.Union(FEED_FRAME_TYPES.map(type => Type.Object({
  type: Type.Literal(type),
  payload: Type.Ref(serverPayloads[type])
}))), { maxItems: 1000, $id: 'FeedFrameList', title: 'FeedFrameList' })

/** A frame the server sends. */
export type ServerFrame<T extends ServerFrameType = ServerFrameType> = { [K in T]: { type: K, payload: ServerPayload<K> } }[T]

/** The query string `GET /ws` accepts (the token may come from here, a header, or the subprotocol). */
export const WsQuery = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 4096, description: 'The JWT from POST /api/v1/users/login (browsers cannot set headers on a WebSocket)' })),
  since: Type.Optional(Type.String({
    maxLength: 16384,
    pattern: '^[1-9][0-9]{0,9}:[0-9]{1,10}(,[1-9][0-9]{0,9}:[0-9]{1,10})*$',
    description: 'Catch up at once: `<room_id>:<last seq>` pairs, comma-separated; the same as a `sync` frame sent right after connecting',
    examples: ['1:41,7:0']
  }))
})
