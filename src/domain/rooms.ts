import { addMember, insertRoomWithCreator, listRooms as listRoomRows, roomExists, type RoomRecord, type RoomWithCount } from '../../db/rooms.js'
import type { Db } from '../../db/users.js'
import { notFound } from '../errors.js'
import type { CreateRoomInput } from '../schemas/rooms.js'
import { trimmed } from './text.js'

export async function createRoom ({ db }: { db: Db }, userId: number, input: CreateRoomInput): Promise<RoomRecord> {
  const name = trimmed(input.name, 'name', 255)
  const description = input.description == null ? null : input.description.trim()
  return await insertRoomWithCreator(db, { name, description: description === '' ? null : description, created_by: userId })
}

export async function listRooms ({ db }: { db: Db }, page: { limit: number, offset: number }): Promise<RoomWithCount[]> {
  return await listRoomRows(db, page)
}

/** Joins a room (REST and WebSocket); joining twice is harmless. Returns whether the user was new. */
export async function joinRoom ({ db }: { db: Db }, userId: number, roomId: number): Promise<boolean> {
  if (!await roomExists(db, roomId)) throw notFound('Room not found', 'ROOM_NOT_FOUND')
  return await addMember(db, roomId, userId)
}
