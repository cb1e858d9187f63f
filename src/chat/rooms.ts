import { appendEvent, lockRoom } from '../../db/feed.js'
import { deleteMember, insertMember, insertRoomWithCreator, longestMember, memberRole, setRole } from '../../db/rooms.js'
import { findAuthState } from '../../db/users.js'
import type { Db } from '../../db/database.js'
import { forbidden, notFound, unauthorized } from '../errors.js'
import type { CreateRoomInput, RoomView } from '../schemas/rooms.js'
import type { ChatBus, RoomFeedEvent } from './events.js'
import { trimmed } from './text.js'
import { ROOM_NAME_MAX } from '../limits.js'

/**
 * A foreign key refused the row: the token's user no longer exists (401: the token names nobody),
 * or the room went away meanwhile (404). Anything else is rethrown.
 */
function missingReference (err: unknown): never {
  const { code, constraint } = err as { code?: unknown, constraint?: unknown }
  if (code === '23503' && typeof constraint === 'string') {
    if (/_(user_id|created_by)_fkey$/.test(constraint)) throw unauthorized('Missing or invalid authentication token')
    if (/_room_id_fkey$/.test(constraint)) throw notFound('Room not found', 'ROOM_NOT_FOUND')
  }
  throw err
}

interface Deps { db: Db, bus: ChatBus }

/** Creates a room; its creator is its first member and owner (and their open sockets subscribe to it). */
export async function createRoom ({ db, bus }: Deps, userId: number, input: CreateRoomInput): Promise<RoomView> {
  const name = trimmed(input.name, 'name', ROOM_NAME_MAX)
  const description = input.description == null ? null : input.description.trim()
  const room = await insertRoomWithCreator(db, { name, description: description === '' ? null : description, created_by: userId })
    .catch(missingReference)
  bus.publish({ type: 'room:subscribe', room_id: room.id, user_id: userId })
  return room
}

/**
 * Joins a room (REST and WebSocket): the feed gets `member:joined`, after whose commit the user's
 * open sockets (on every instance) subscribe to the room. The new member's read marker starts at
 * that frame: what was said before they joined is history, not unread. Joining twice is harmless
 * and publishes nothing.
 */
export async function joinRoom ({ db, bus }: Deps, userId: number, roomId: number): Promise<void> {
  const event = await db.transaction().execute(async trx => {
    if (!await lockRoom(trx, roomId)) throw notFound('Room not found', 'ROOM_NOT_FOUND')
    if (await memberRole(trx, roomId, userId) !== undefined) return undefined
    const user = await findAuthState(trx, userId)
    if (user === undefined) throw unauthorized('Missing or invalid authentication token')
    const data = { user: { id: userId, username: user.username }, role: 'member' as const }
    const seq = await appendEvent(trx, roomId, 'member:joined', data)
    await insertMember(trx, roomId, userId, 'member', seq).catch(missingReference)
    return { type: 'member:joined', room_id: roomId, payload: { seq, room_id: roomId, ...data } } satisfies RoomFeedEvent
  })
  if (event !== undefined) bus.publish(event)
}

/**
 * Leaves a room: the feed gets `member:left` (reason `left`), and from that seq nothing of the room
 * reaches the user's sockets on any instance (they get `room:removed`). An owner who leaves hands
 * the room to the member who has been in it longest (`member:updated`). 403 NOT_A_MEMBER when not
 * one.
 */
export async function leaveRoom ({ db, bus }: Deps, userId: number, roomId: number): Promise<void> {
  const events = await db.transaction().execute(async trx => {
    if (!await lockRoom(trx, roomId)) throw notFound('Room not found', 'ROOM_NOT_FOUND')
    const role = await deleteMember(trx, roomId, userId)
    if (role === undefined) throw forbidden('You are not a member of this room', 'NOT_A_MEMBER')
    const left = { user_id: userId, reason: 'left' as const }
    const events: RoomFeedEvent[] = [{ type: 'member:left', room_id: roomId, payload: { seq: await appendEvent(trx, roomId, 'member:left', left), room_id: roomId, ...left } }]
    const heir = role === 'owner' ? await longestMember(trx, roomId) : undefined
    if (heir !== undefined) {
      await setRole(trx, roomId, heir, 'owner')
      const updated = { user_id: heir, role: 'owner' as const, muted_until: null }
      events.push({ type: 'member:updated', room_id: roomId, payload: { seq: await appendEvent(trx, roomId, 'member:updated', updated), room_id: roomId, ...updated } })
    }
    return events
  })
  for (const event of events) bus.publish(event)
}
