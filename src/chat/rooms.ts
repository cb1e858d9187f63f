import { addMember, insertRoomWithCreator, listRooms as listRoomRows, roomExists, type RoomRecord, type RoomWithCount } from '../../db/rooms.js'
import type { Db } from '../../db/users.js'
import { notFound, unauthorized } from '../errors.js'
import type { CreateRoomInput } from '../schemas/rooms.js'
import type { RoomEvents } from './events.js'
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

interface Deps { db: Db, events: RoomEvents }

/** Creates a room; its creator is its first member (and their open sockets subscribe to it). */
export async function createRoom ({ db, events }: Deps, userId: number, input: CreateRoomInput): Promise<RoomRecord> {
  const name = trimmed(input.name, 'name', ROOM_NAME_MAX)
  const description = input.description == null ? null : input.description.trim()
  const room = await insertRoomWithCreator(db, { name, description: description === '' ? null : description, created_by: userId })
    .catch(missingReference)
  events.publish({ type: 'member:joined', room_id: room.id, user_id: userId })
  return room
}

export async function listRooms ({ db }: { db: Db }, page: { limit: number, offset: number }): Promise<RoomWithCount[]> {
  return await listRoomRows(db, page)
}

/**
 * Joins a room (REST and WebSocket); joining twice is harmless. After the commit, the user's open
 * sockets (on every instance) subscribe to the room. Returns whether the user was new.
 */
export async function joinRoom ({ db, events }: Deps, userId: number, roomId: number): Promise<boolean> {
  if (!await roomExists(db, roomId)) throw notFound('Room not found', 'ROOM_NOT_FOUND')
  const added = await addMember(db, roomId, userId).catch(missingReference)
  events.publish({ type: 'member:joined', room_id: roomId, user_id: userId })
  return added
}
