import { directKey, directRoomId, insertDirectRoom } from '../../db/dms.js'
import { roomSeenBy } from '../../db/rooms.js'
import type { Db } from '../../db/database.js'
import { badRequest, unauthorized } from '../errors.js'
import type { RoomView } from '../schemas/rooms.js'
import type { ChatBus } from './events.js'
import { activeUser } from './invites.js'
import { missingReference } from './rooms.js'
import { ROOM_NAME_MAX } from '../limits.js'

interface Deps { db: Db, bus: ChatBus }

/** A DM's name: the two usernames as they were when it was opened, the lower id's first ("alice & bob"), the same from either side. */
export function directRoomName (first: string, second: string): string {
  return `${first} & ${second}`.slice(0, ROOM_NAME_MAX)
}

/**
 * Opens the direct-message room of the caller and another user: private, `is_direct`, both of
 * them members with role `member` (no owner). One per pair whoever opens it and however many open
 * it at once: the database's unique `direct_key` settles it (insert, or nothing, then read; never
 * check-then-insert). A new DM subscribes both users' open sockets, and the other user's get
 * `room:added`. Refused: yourself (400 CANNOT_DM_SELF), an unknown or disabled user (404
 * USER_NOT_FOUND). `created`: whether this call made it.
 */
export async function openDm ({ db, bus }: Deps, userId: number, otherId: number): Promise<{ room: RoomView, created: boolean }> {
  if (otherId === userId) throw badRequest('You cannot open a direct-message room with yourself', 'CANNOT_DM_SELF')
  const other = await activeUser(db, otherId)
  const me = await activeUser(db, userId).catch(() => { throw unauthorized('Missing or invalid authentication token') })
  const key = directKey(userId, otherId)
  const name = userId < otherId ? directRoomName(me.username, other.username) : directRoomName(other.username, me.username)
  // Two tries: only a DM deleted (by a site admin) between the insert and the read needs a second.
  for (let attempt = 1; ; attempt++) {
    const createdId = await insertDirectRoom(db, { name, created_by: userId, direct_key: key }, [userId, otherId]).catch(missingReference)
    const roomId = createdId ?? await directRoomId(db, key)
    const room = roomId === undefined ? undefined : await roomSeenBy(db, roomId, userId)
    if (room === undefined) {
      if (attempt < 2) continue
      throw new Error(`the direct-message room ${key} vanished while being opened`)
    }
    if (createdId !== undefined) {
      bus.publish({ type: 'room:subscribe', room_id: room.id, user_id: userId })
      bus.publish({ type: 'room:subscribe', room_id: room.id, user_id: otherId })
      const seen = await roomSeenBy(db, room.id, otherId)
      if (seen !== undefined) bus.publish({ type: 'room:added', user_id: otherId, payload: { room: seen } })
    }
    return { room, created: createdId !== undefined }
  }
}
