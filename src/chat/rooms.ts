import { appendEvent, lockRoom } from '../../db/feed.js'
import { deleteInvite, deleteMember, insertMember, insertRoomWithCreator, longestMember, setRole } from '../../db/rooms.js'
import { findAuthState } from '../../db/users.js'
import type { Db } from '../../db/database.js'
import { forbidden, unauthorized } from '../errors.js'
import { notAMember, roomNotFound, visibleStanding } from './access.js'
import { isoOrNull } from './feed.js'
import type { CreateRoomInput, RoomView } from '../schemas/rooms.js'
import type { ChatBus, RoomFeedEvent } from './events.js'
import { trimmed } from './text.js'
import { ROOM_NAME_MAX } from '../limits.js'

/**
 * A foreign key refused the row: the token's user no longer exists (401: the token names nobody),
 * or the room went away meanwhile (404). Anything else is rethrown.
 */
export function missingReference (err: unknown): never {
  const { code, constraint } = err as { code?: unknown, constraint?: unknown }
  if (code === '23503' && typeof constraint === 'string') {
    if (/_(user_id|created_by)_fkey$/.test(constraint)) throw unauthorized('Missing or invalid authentication token')
    if (/_room_id_fkey$/.test(constraint)) throw roomNotFound()
  }
  throw err
}

interface Deps { db: Db, bus: ChatBus }

/** Creates a room (public unless `is_private`); its creator is its first member and owner (and their open sockets subscribe to it). No feed frame: the creator's membership is the room's starting state. */
export async function createRoom ({ db, bus }: Deps, userId: number, input: CreateRoomInput): Promise<RoomView> {
  const name = trimmed(input.name, 'name', ROOM_NAME_MAX)
  const description = input.description == null ? null : input.description.trim()
  const room = await insertRoomWithCreator(db, { name, description: description === '' ? null : description, created_by: userId, is_private: input.is_private ?? false })
    .catch(missingReference)
  bus.publish({ type: 'room:subscribe', room_id: room.id, user_id: userId })
  return room
}

/** 403 DIRECT_ROOM: what a DM has none of (roles, invites, kicks, bans, renames, leaving). */
export function assertNotDirect (standing: { is_direct: boolean }): void {
  if (standing.is_direct) throw forbidden('A direct-message room has no roles, invites, moderation, renames or leaving', 'DIRECT_ROOM')
}

/**
 * Joins a room (REST and WebSocket): anyone not banned may join a public room (403 BANNED), only
 * invitees a private one (404 for anyone else, banned included: it stays invisible); the invite
 * is used up. The feed gets `member:joined`, after whose commit the user's open sockets (on every
 * instance) subscribe to the room. The new member's read marker starts at that frame: what was
 * said before they joined is history, not unread. Joining twice is harmless and publishes nothing.
 */
export async function joinRoom ({ db, bus }: Deps, userId: number, roomId: number): Promise<void> {
  const event = await db.transaction().execute(async trx => {
    if (!await lockRoom(trx, roomId)) throw roomNotFound()
    const standing = await visibleStanding(trx, userId, roomId)
    if (standing.role !== null) return undefined
    if (standing.banned) throw forbidden('You are banned from this room', 'BANNED')
    const user = await findAuthState(trx, userId)
    if (user === undefined) throw unauthorized('Missing or invalid authentication token')
    const data = { user: { id: userId, username: user.username }, role: 'member' as const }
    const seq = await appendEvent(trx, roomId, 'member:joined', data)
    await insertMember(trx, roomId, userId, 'member', seq).catch(missingReference)
    if (standing.invited) await deleteInvite(trx, roomId, userId)
    return { type: 'member:joined', room_id: roomId, payload: { seq, room_id: roomId, ...data } } satisfies RoomFeedEvent
  })
  if (event !== undefined) bus.publish(event)
}

/**
 * Takes a member out of a room under its lock (leave, kick, ban): the feed gets `member:left` with
 * the reason, and from that seq nothing of the room reaches their sockets on any instance (they
 * get `room:removed`). An owner who goes hands the room to the longest-standing moderator, else
 * member (`member:updated`). Returns the events to publish after the commit; undefined when the
 * user was not a member.
 */
export async function removeMember (trx: Db, roomId: number, userId: number, reason: 'left' | 'kicked' | 'banned'): Promise<RoomFeedEvent[] | undefined> {
  const role = await deleteMember(trx, roomId, userId)
  if (role === undefined) return undefined
  const left = { user_id: userId, reason }
  const events: RoomFeedEvent[] = [{ type: 'member:left', room_id: roomId, payload: { seq: await appendEvent(trx, roomId, 'member:left', left), room_id: roomId, ...left } }]
  const heir = role === 'owner' ? await longestMember(trx, roomId) : undefined
  if (heir !== undefined) {
    const muted = await setRole(trx, roomId, heir, 'owner')
    const updated = { user_id: heir, role: 'owner' as const, muted_until: isoOrNull(muted) }
    events.push({ type: 'member:updated', room_id: roomId, payload: { seq: await appendEvent(trx, roomId, 'member:updated', updated), room_id: roomId, ...updated } })
  }
  return events
}

/** Leaves a room (members; not a DM: 403 DIRECT_ROOM). See `removeMember`. 403 NOT_A_MEMBER when not one. */
export async function leaveRoom ({ db, bus }: Deps, userId: number, roomId: number): Promise<void> {
  const events = await db.transaction().execute(async trx => {
    if (!await lockRoom(trx, roomId)) throw roomNotFound()
    const standing = await visibleStanding(trx, userId, roomId)
    if (standing.role === null) throw notAMember()
    assertNotDirect(standing)
    return await removeMember(trx, roomId, userId, 'left') ?? []
  })
  for (const event of events) bus.publish(event)
}
