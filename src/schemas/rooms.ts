import { Type, type Static } from '@sinclair/typebox'
import { DESCRIPTION_MAX, INT32_MAX, PAGE_MAX, MUTE_MINUTES_MAX, ROOM_NAME_MAX, USERNAME_MAX } from '../limits.js'
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

/** A pending invite: `user_id` may join the (private or public) room; `POST /rooms/{id}/invites`. */
export const RoomInvite = Type.Object({
  room_id: Id,
  user_id: Id,
  invited_by: Type.Union([Id, Type.Null()], { description: 'Who invited them (null once that user is gone)' }),
  created_at: Timestamp
}, { $id: 'RoomInvite', title: 'RoomInvite' })

export const InviteBody = Type.Object({
  user_id: Id
}, { $id: 'CreateInviteRequest', title: 'CreateInviteRequest', additionalProperties: false })

/** `DELETE /rooms/{id}/invites/{user_id}`. */
export const InviteParams = Type.Object({ id: Id, user_id: Id })

/** One of your pending invites, with the room as you see it. */
export const MyInvite = Type.Composite([RoomInvite, Type.Object({
  room: Type.Ref(Room)
})], { $id: 'MyInvite', title: 'MyInvite' })

export const MyInviteList = Type.Array(Type.Ref(MyInvite), { maxItems: PAGE_MAX, $id: 'MyInviteList', title: 'MyInviteList' })

/** `POST /dms`: the other user of the direct-message room. */
export const OpenDmBody = Type.Object({
  user_id: Id
}, { $id: 'OpenDirectMessageRequest', title: 'OpenDirectMessageRequest', additionalProperties: false })

export type RoomInviteView = Static<typeof RoomInvite>
export type MyInviteView = Static<typeof MyInvite>
// Moderation (CONTRACT.md Part 2, "Rooms"): members, roles, kicks, bans, mutes.

/** `/rooms/{id}/members/{user_id}`, `/bans/{user_id}`, `/mutes/{user_id}`. */
export const MemberParams = Type.Object({ id: Id, user_id: Id })

export const RoomMember = Type.Object({
  user_id: Id,
  username: Type.String({ maxLength: USERNAME_MAX, examples: ['johndoe'] }),
  role: Type.Ref(RoomRole),
  joined_at: Timestamp,
  muted_until: Type.Union([Timestamp, Type.Null()], { description: 'While muted, until when (9999-12-31T23:59:59.000Z: until unmuted); null when not muted or once the mute has ended' })
}, { $id: 'RoomMember', title: 'RoomMember' })

export const RoomMemberList = Type.Array(Type.Ref(RoomMember), { maxItems: PAGE_MAX, $id: 'RoomMemberList', title: 'RoomMemberList' })

export const UpdateMemberBody = Type.Object({
  role: Type.Ref(RoomRole, { description: '`owner` hands the room over (you become a moderator)' })
}, { $id: 'UpdateMemberRequest', title: 'UpdateMemberRequest', additionalProperties: false })

export const MuteBody = Type.Object({
  minutes: Type.Optional(Type.Integer({ format: 'int32', minimum: 1, maximum: MUTE_MINUTES_MAX, description: `How long, 1 to ${MUTE_MINUTES_MAX} minutes; omitted: until unmuted` }))
}, { $id: 'MuteMemberRequest', title: 'MuteMemberRequest', additionalProperties: false })

export const RoomBan = Type.Object({
  user_id: Id,
  username: Type.String({ maxLength: USERNAME_MAX, examples: ['johndoe'] }),
  banned_by: Type.Union([Id, Type.Null()], { description: 'Who banned them, or null once that user is gone' }),
  created_at: Timestamp
}, { $id: 'RoomBan', title: 'RoomBan' })

export const RoomBanList = Type.Array(Type.Ref(RoomBan), { maxItems: PAGE_MAX, $id: 'RoomBanList', title: 'RoomBanList' })

export type RoomMemberView = Static<typeof RoomMember>
export type RoomBanView = Static<typeof RoomBan>
export type MuteInput = Static<typeof MuteBody>
