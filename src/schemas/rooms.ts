import { Type, type Static } from '@sinclair/typebox'
import { DESCRIPTION_MAX, INT32_MAX, PAGE_MAX, ROOM_NAME_MAX } from '../limits.js'
import { Id, MAX_RAW_TEXT, NO_NUL, Pagination, Timestamp } from './common.js'
import { Message } from './messages.js'

/** A member's role in a room. */
export const RoomRole = Type.Union([Type.Literal('owner'), Type.Literal('moderator'), Type.Literal('member')], { $id: 'RoomRole', title: 'RoomRole', description: 'owner: the creator (or who it was handed to); moderator; member' })

export const Room = Type.Object({
  id: Id,
  name: Type.String({ minLength: 1, maxLength: ROOM_NAME_MAX, examples: ['General Discussion'] }),
  description: Type.Union([Type.String({ maxLength: DESCRIPTION_MAX }), Type.Null()], { examples: ['A place for general topics'] }),
  created_by: Type.Union([Id, Type.Null()], { description: 'The creator, or null once that user is gone' }),
  created_at: Timestamp,
  is_private: Type.Boolean({ description: 'Invisible to non-members who are not invited (404, as for a missing id)' }),
  is_direct: Type.Boolean({ description: 'A direct-message room of two users (always private; no roles, invites, moderation, renames or leaving)' }),
  member_count: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX }),
  my_role: Type.Union([Type.Ref(RoomRole), Type.Null()], { description: 'Your role in the room; null when you are not a member' })
}, { $id: 'Room', title: 'Room' })

/** A room in a list: the same fields as a Room (the name is kept for clients generated from earlier documents). */
export const RoomSummary = Type.Composite([Room], { $id: 'RoomSummary', title: 'RoomSummary' })

export const RoomList = Type.Array(Type.Ref(RoomSummary), { maxItems: PAGE_MAX, $id: 'RoomList', title: 'RoomList' })

export const CreateRoomBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: MAX_RAW_TEXT, pattern: NO_NUL, description: '1 to 255 characters after trimming (the bound applies to the trimmed name)', examples: ['General Discussion'] }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: DESCRIPTION_MAX, pattern: NO_NUL }), Type.Null()], { examples: ['A place for general topics'] })),
  is_private: Type.Optional(Type.Boolean({ description: 'Only members and invitees see it (omitted: false, a public room)' }))
}, { $id: 'CreateRoomRequest', title: 'CreateRoomRequest', additionalProperties: false })

export const JoinResponse = Type.Object({
  message: Type.String({ maxLength: 100, examples: ['Successfully joined room'] }),
  room_id: Id
}, { $id: 'JoinRoomResponse', title: 'JoinRoomResponse' })

/** Your read state in a room: `POST /rooms/{id}/read`, and the `read` frame your other sockets get. */
export const ReadState = Type.Object({
  room_id: Id,
  last_read_seq: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX, description: 'Every feed entry up to this seq is read' }),
  unread_count: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX, description: 'The room\'s messages after last_read_seq that are not deleted and not your own' })
}, { $id: 'ReadState', title: 'ReadState' })

export const ReadBody = Type.Object({
  seq: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX, description: 'The last seq you have read (a lower one than your marker changes nothing; one past the room\'s last seq counts as its last)' })
}, { $id: 'MarkReadRequest', title: 'MarkReadRequest', additionalProperties: false })

/** One of your rooms, with your place in it. */
export const MyRoom = Type.Composite([Room, Type.Object({
  role: Type.Ref(RoomRole),
  last_read_seq: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX }),
  unread_count: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX, description: 'Messages after last_read_seq, not deleted, not yours' }),
  last_message: Type.Union([Type.Ref(Message), Type.Null()], { description: 'Its newest message that is not deleted (null: none)' })
})], { $id: 'MyRoom', title: 'MyRoom' })

export const MyRoomList = Type.Array(Type.Ref(MyRoom), { maxItems: PAGE_MAX, $id: 'MyRoomList', title: 'MyRoomList' })

/** `GET /rooms/{id}/events`: the feed after `after`. */
export const EventsQuery = Type.Object({
  after: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX, default: 0, description: 'The last seq you have (0: from the start)' }),
  limit: Type.Integer({ format: 'int32', minimum: 1, maximum: 1000, default: 100, description: 'At most this many frames, 1 to 1000' })
})

export const UpdateRoomBody = Type.Object({
  name: Type.Optional(CreateRoomBody.properties.name),
  description: Type.Optional(Type.Union([Type.String({ maxLength: DESCRIPTION_MAX, pattern: NO_NUL }), Type.Null()], { description: 'null or empty: no description' })),
  is_private: Type.Optional(Type.Boolean({ description: 'The owner only' }))
}, { $id: 'UpdateRoomRequest', title: 'UpdateRoomRequest', additionalProperties: false, minProperties: 1 })

/** `GET /rooms`: a page, optionally filtered by a piece of the name. */
export const RoomsQuery = Type.Composite([Type.Object({
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'A case-insensitive piece of the name' }))
}), Pagination])

export type UpdateRoomInput = Static<typeof UpdateRoomBody>
export type RoomRoleName = Static<typeof RoomRole>
export type CreateRoomInput = Static<typeof CreateRoomBody>
export type RoomView = Static<typeof Room>
export type RoomSummaryView = Static<typeof RoomSummary>
export type ReadInput = Static<typeof ReadBody>
export type MyRoomView = Static<typeof MyRoom>
