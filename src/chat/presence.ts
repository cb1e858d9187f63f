import { memberIdsOfRoom, roomIdsOfUser } from '../../db/rooms.js'
import { findUserById } from '../../db/users.js'
import type { Db } from '../../db/database.js'
import type { ChatBus } from './events.js'
import { assertMember, assertNotMuted } from './access.js'

export type PresenceStatus = 'online' | 'offline'

/** Tells the members of each room (on every instance, the user's own sockets excepted) that the user came online or went offline. */
export function announcePresence (bus: ChatBus, user: { id: number, username: string }, roomIds: Iterable<number>, status: PresenceStatus): void {
  for (const roomId of roomIds) {
    bus.publish({ type: 'presence', room_id: roomId, payload: { room_id: roomId, user_id: user.id, username: user.username, status } })
  }
}

/**
 * The same, for a user the caller knows only by id (a user whose instance stopped, a new member):
 * reads their current name, and their rooms when not given. A user who no longer exists is not announced.
 */
export async function announcePresenceOf ({ db, bus }: { db: Db, bus: ChatBus }, userId: number, roomIds: number[] | undefined, status: PresenceStatus): Promise<void> {
  const user = await findUserById(db, userId)
  if (user === undefined) return
  announcePresence(bus, user, roomIds ?? await roomIdsOfUser(db, userId), status)
}

/** `typing`: a member is typing in the room; the room's other members are told (nothing is stored). 404/403 as a send, a muted member's included (403 MUTED). */
export async function announceTyping ({ db, bus }: { db: Db, bus: ChatBus }, user: { id: number, username: string }, roomId: number): Promise<void> {
  assertNotMuted(await assertMember(db, user.id, roomId))
  bus.publish({ type: 'typing', room_id: roomId, payload: { room_id: roomId, user_id: user.id, username: user.username } })
}

/** The room's members who are online (`online`: the presence store's answer), ascending. The caller checked membership. */
export async function onlineMembers (db: Db, online: (userIds: number[]) => Promise<Set<number>>, roomId: number): Promise<number[]> {
  const members = await memberIdsOfRoom(db, roomId)
  const present = await online(members)
  return members.filter(id => present.has(id))
}
