import { type RoomStanding, standingIn } from '../../db/rooms.js'
import type { Db } from '../../db/database.js'
import { forbidden, notFound } from '../errors.js'

/**
 * Who may see and do what in a room (CONTRACT.md Part 2, "Rooms"): the one place the rules are
 * read from a user's standing, for REST and WebSocket alike. A private room is invisible (404
 * ROOM_NOT_FOUND, the same answer as a missing id) to anyone neither a member nor invited; a
 * public room answers a non-member's reads and sends with 403 NOT_A_MEMBER. Site admins have no
 * implicit access.
 */

export const roomNotFound = (): Error => notFound('Room not found', 'ROOM_NOT_FOUND')
export const notAMember = (): Error => forbidden('You are not a member of this room', 'NOT_A_MEMBER')
/** The one answer for a message the user cannot read, whether it exists or not: ids never reveal other rooms. */
export const messageNotFound = (): Error => notFound('Message not found', 'MESSAGE_NOT_FOUND')

/** An indefinite mute: stored as this moment, so that "muted" is always `muted_until > now`. */
export const MUTED_FOREVER = new Date('9999-12-31T23:59:59.000Z')

/** Whether the user may see the room at all: public, or a member, or invited. */
export function canSee (standing: RoomStanding): boolean {
  return !standing.is_private || standing.role !== null || standing.invited
}

export function isMuted (standing: { muted_until: Date | null }, now = Date.now()): boolean {
  return standing.muted_until !== null && standing.muted_until.getTime() > now
}

/** The user's standing in a room they may see; 404 ROOM_NOT_FOUND for a missing or invisible room. */
export async function visibleStanding (db: Db, userId: number, roomId: number): Promise<RoomStanding> {
  const standing = await standingIn(db, roomId, userId)
  if (standing === undefined || !canSee(standing)) throw roomNotFound()
  return standing
}

/** Members only (reads of history, events, presence, sync, read markers): 404 for a room they may not see, 403 NOT_A_MEMBER otherwise. */
export async function assertMember (db: Db, userId: number, roomId: number): Promise<RoomStanding & { role: string }> {
  const standing = await visibleStanding(db, userId, roomId)
  if (standing.role === null) throw notAMember()
  return standing as RoomStanding & { role: string }
}

/**
 * A message is read by the members of its room only, public or private: anyone else gets 404
 * MESSAGE_NOT_FOUND, the answer for an id that does not exist (not 403: a message id must not
 * tell that the message, or its room, exists). `access` is the message with the reader's role in
 * its room (undefined: no such message), read at the time of the request.
 */
export function assertReadsMessage<A extends { role: string | null }> (access: A | undefined): asserts access is A & { role: string } {
  if (access === undefined || access.role === null) throw messageNotFound()
}

/** 403 MUTED while the member's mute lasts (sends, edits, reactions). */
export function assertNotMuted (standing: { muted_until: Date | null }): void {
  if (isMuted(standing)) throw forbidden(`You are muted in this room until ${standing.muted_until!.toISOString()}`, 'MUTED')
}
