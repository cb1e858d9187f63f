import { messagesByIds } from '../../db/messages.js'
import { advanceReadMarker, roomsOfMember, unreadCount } from '../../db/read-state.js'
import type { Db } from '../../db/database.js'
import type { MyRoomView } from '../schemas/rooms.js'
import type { ServerPayload } from '../schemas/realtime.js'
import { forbidden } from '../errors.js'
import type { ChatBus } from './events.js'
import { assertMember } from './access.js'
import { messageViews } from './message-views.js'

type ReadState = ServerPayload<'read'>

/**
 * Marks a room read up to `seq` (members; 404/403 otherwise): the marker only moves forward, and
 * never past the room's last seq. The user's sockets (on every instance) get `read` with the
 * answer, so badges clear on every device.
 */
export async function markRead ({ db, bus }: { db: Db, bus: ChatBus }, userId: number, roomId: number, seq: number): Promise<ReadState> {
  let marker = await advanceReadMarker(db, roomId, userId, seq)
  if (marker === undefined) {
    // Say why (404 or 403); a user who joined in between is a member now: tried once more.
    await assertMember(db, userId, roomId)
    marker = await advanceReadMarker(db, roomId, userId, seq)
    if (marker === undefined) throw forbidden('You are not a member of this room', 'NOT_A_MEMBER')
  }
  const state = { room_id: roomId, last_read_seq: marker, unread_count: await unreadCount(db, roomId, userId, marker) }
  bus.publish({ type: 'read', user_id: userId, payload: state })
  return state
}

/** `GET /users/me/rooms`: the user's rooms, most recent activity first, with role, marker, unread count and last message. */
export async function myRooms ({ db }: { db: Db }, userId: number, page: { limit: number, offset: number }): Promise<MyRoomView[]> {
  const rows = await roomsOfMember(db, userId, page)
  const ids = rows.flatMap(row => row.last_message_id === null ? [] : [row.last_message_id])
  const last = new Map((await messageViews(db, userId, await messagesByIds(db, ids))).map(message => [message.id, message]))
  return rows.map(({ last_message_id: lastId, role, ...room }) => ({
    ...room,
    role: role as MyRoomView['role'],
    my_role: role as MyRoomView['role'],
    last_message: lastId === null ? null : last.get(lastId) ?? null
  }))
}
