import { insertMessage, listMessages, type HistoryPage } from '../../db/messages.js'
import { roomAccess } from '../../db/rooms.js'
import type { Db } from '../../db/users.js'
import { badRequest, forbidden, notFound } from '../errors.js'
import { MAX_CONTENT, type MessageView, type SendMessageInput } from '../schemas/messages.js'
import type { RoomEvents } from './bus.js'
import { trimmed } from './text.js'

/** 404 for a room that doesn't exist, 403 for a user who is not a member. */
async function assertMember (db: Db, userId: number, roomId: number): Promise<void> {
  const access = await roomAccess(db, roomId, userId)
  if (!access.exists) throw notFound('Room not found', 'ROOM_NOT_FOUND')
  if (!access.member) throw forbidden('You are not a member of this room', 'NOT_A_MEMBER')
}

/**
 * Sends a message: the one path for REST and WebSocket. Checks membership, stores, and only
 * after the row is committed publishes `message:new` to the room.
 */
export async function sendMessage ({ db, events }: { db: Db, events: RoomEvents }, userId: number, input: SendMessageInput): Promise<MessageView> {
  const content = trimmed(input.content, 'content', MAX_CONTENT)
  await assertMember(db, userId, input.room_id)
  const message = await insertMessage(db, { room_id: input.room_id, user_id: userId, content })
  events.publish({ type: 'message:new', room_id: message.room_id, payload: message })
  return message
}

export async function roomHistory ({ db }: { db: Db }, userId: number, roomId: number, page: HistoryPage): Promise<MessageView[]> {
  if (page.before !== undefined && page.after !== undefined) throw badRequest('use either before or after, not both')
  await assertMember(db, userId, roomId)
  return await listMessages(db, roomId, page)
}
