import { addMember, insertRoomWithCreator, roomExists } from '../../db/rooms.js'
import type { Db } from '../../db/database.js'
import { notFound, unauthorized } from '../errors.js'
import type { CreateRoomInput, RoomView } from '../schemas/rooms.js'
import type { ChatBus } from './events.js'
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

/** Creates a room; its creator is its first member (and their open sockets subscribe to it). */
export async function createRoom ({ db, bus }: Deps, userId: number, input: CreateRoomInput): Promise<RoomView> {
  const name = trimmed(input.name, 'name', ROOM_NAME_MAX)
  const description = input.description == null ? null : input.description.trim()
  const room = await insertRoomWithCreator(db, { name, description: description === '' ? null : description, created_by: userId })
    .catch(missingReference)
  bus.publish({ type: 'member:joined', room_id: room.id, user_id: userId })
  return room
}

/**
 * Joins a room (REST and WebSocket); joining twice is harmless and publishes nothing. After the
 * commit, the user's open sockets (on every instance) subscribe to the room.
 */
export async function joinRoom ({ db, bus }: Deps, userId: number, roomId: number): Promise<void> {
  if (!await roomExists(db, roomId)) throw notFound('Room not found', 'ROOM_NOT_FOUND')
  const added = await addMember(db, roomId, userId).catch(missingReference)
  if (added) bus.publish({ type: 'member:joined', room_id: roomId, user_id: userId })
}
