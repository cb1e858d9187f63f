import { Type, type Static } from '@sinclair/typebox'
import { DESCRIPTION_MAX, INT32_MAX, PAGE_MAX, ROOM_NAME_MAX } from '../limits.js'
import { Id, MAX_RAW_TEXT, NO_NUL, Timestamp } from './common.js'

export const Room = Type.Object({
  id: Id,
  name: Type.String({ minLength: 1, maxLength: ROOM_NAME_MAX, examples: ['General Discussion'] }),
  description: Type.Union([Type.String({ maxLength: DESCRIPTION_MAX }), Type.Null()], { examples: ['A place for general topics'] }),
  created_by: Type.Union([Id, Type.Null()], { description: 'The creator, or null once that user is gone' }),
  created_at: Timestamp
}, { $id: 'Room', title: 'Room' })

/** A room in a list: the Room and how many members it has. */
export const RoomSummary = Type.Composite([Room, Type.Object({
  member_count: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX })
})], { $id: 'RoomSummary', title: 'RoomSummary' })

export const RoomList = Type.Array(Type.Ref(RoomSummary), { maxItems: PAGE_MAX, $id: 'RoomList', title: 'RoomList' })

export const CreateRoomBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: MAX_RAW_TEXT, pattern: NO_NUL, description: '1 to 255 characters after trimming (the bound applies to the trimmed name)', examples: ['General Discussion'] }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: DESCRIPTION_MAX, pattern: NO_NUL }), Type.Null()], { examples: ['A place for general topics'] }))
}, { $id: 'CreateRoomRequest', title: 'CreateRoomRequest', additionalProperties: false })

export const JoinResponse = Type.Object({
  message: Type.String({ maxLength: 100, examples: ['Successfully joined room'] }),
  room_id: Id
}, { $id: 'JoinRoomResponse', title: 'JoinRoomResponse' })

export type CreateRoomInput = Static<typeof CreateRoomBody>
export type RoomView = Static<typeof Room>
export type RoomSummaryView = Static<typeof RoomSummary>
