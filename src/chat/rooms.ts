import { markRoomFilesDeleted } from '../../db/attachments.js'
import { purgeFiles } from './attachments.js'
import type { FileDeps } from './messages.js'
import { appendEvent, lockRoom } from '../../db/feed.js'
import { deleteInvite, deleteMember, deleteRoomRow, insertMember, insertRoomWithCreator, longestMember, type RoomChanges, roomSeenBy, setRole, updateRoomFields } from '../../db/rooms.js'
import { findAuthState } from '../../db/users.js'
import type { Db } from '../../db/database.js'
import { forbidden, unauthorized } from '../errors.js'
import { notAMember, roomNotFound, visibleStanding } from './access.js'
import { isoOrNull } from './feed.js'
import type { CreateRoomInput, RoomView, UpdateRoomInput } from '../schemas/rooms.js'
import type { ChatBus, RoomFeedEvent } from './events.js'
import type { Actor } from './messages.js'
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
  const room = await insertRoomWithCreator(db, { name, description: storedDescription(input.description), created_by: userId, is_private: input.is_private ?? false })
    .catch(missingReference)
  bus.publish({ type: 'room:subscribe', room_id: room.id, user_id: userId })
  return room
}

/** A description as stored: trimmed; empty (or null, or missing) is none. */
function storedDescription (description: string | null | undefined): string | null {
  const text = description?.trim() ?? ''
  return text === '' ? null : text
}

/** `GET /rooms/{id}`: the room as the user sees it (public: anyone; private: members and invitees; else 404 ROOM_NOT_FOUND, as for a missing id). */
export async function getRoom ({ db }: { db: Db }, userId: number, roomId: number): Promise<RoomView> {
  await visibleStanding(db, userId, roomId)
  const room = await roomSeenBy(db, roomId, userId)
  if (room === undefined) throw roomNotFound()
  return room
}

/** A room as `room:updated` carries it: the same for every member, so nobody's role (`my_role` null), `created_at` as text (what the feed stores). */
const roomForEveryone = (room: RoomView): RoomView => ({ ...room, created_at: new Date(room.created_at).toISOString(), my_role: null })

/**
 * `PATCH /rooms/{id}`: the owner changes name, description and privacy, a moderator name and
 * description (changing `is_private`: 403 NOT_ALLOWED; sending the value it already has is no
 * change). Anyone else who can see the room: 403 NOT_ALLOWED; a DM: 403 DIRECT_ROOM; a private room
 * they cannot see: 404. Under the room's lock, the feed gets `room:updated {room}` (published after
 * the commit); a request that changes nothing answers the room and publishes nothing. The name
 * follows the rules of `createRoom`; an empty description is none.
 */
export async function updateRoom ({ db, bus }: Deps, userId: number, roomId: number, input: UpdateRoomInput): Promise<RoomView> {
  const wanted: RoomChanges = {}
  if (input.name !== undefined) wanted.name = trimmed(input.name, 'name', ROOM_NAME_MAX)
  if (input.description !== undefined) wanted.description = storedDescription(input.description)
  if (input.is_private !== undefined) wanted.is_private = input.is_private
  const { room, event } = await db.transaction().execute(async trx => {
    if (!await lockRoom(trx, roomId)) throw roomNotFound()
    const standing = await visibleStanding(trx, userId, roomId)
    assertNotDirect(standing)
    if (standing.role !== 'owner' && standing.role !== 'moderator') throw forbidden('Only the room\'s owner and moderators may change it', 'NOT_ALLOWED')
    const current = await roomSeenBy(trx, roomId, userId)
    if (current === undefined) throw roomNotFound()
    const changes: RoomChanges = {}
    if (wanted.name !== undefined && wanted.name !== current.name) changes.name = wanted.name
    if (wanted.description !== undefined && wanted.description !== current.description) changes.description = wanted.description
    if (wanted.is_private !== undefined && wanted.is_private !== current.is_private) {
      if (standing.role !== 'owner') throw forbidden('Only the room\'s owner may make it private or public', 'NOT_ALLOWED')
      changes.is_private = wanted.is_private
    }
    if (Object.keys(changes).length === 0) return { room: current, event: undefined }
    await updateRoomFields(trx, roomId, changes)
    const room = { ...current, ...changes }
    const data = { room: roomForEveryone(room) }
    const seq = await appendEvent(trx, roomId, 'room:updated', data)
    return { room, event: { type: 'room:updated', room_id: roomId, payload: { seq, room_id: roomId, ...data } } satisfies RoomFeedEvent }
  })
  if (event !== undefined) bus.publish(event)
  return room
}

/**
 * `DELETE /rooms/{id}`: its owner, or a site admin (any room, member or not, DMs included: a DM
 * has no owner, so its two members get 403 DIRECT_ROOM and only a site admin removes one). Anyone
 * else who can see the room: 403 NOT_ALLOWED; a private room they cannot see: 404. Under the
 * room's lock (so no change of the room is half-way), the room goes with everything in it; after
 * the commit every socket listening to it, on every instance, gets `room:deleted` and nothing
 * more of it.
 */
export async function deleteRoom ({ db, bus, storage, log }: Deps & FileDeps, actor: Actor, roomId: number): Promise<void> {
  const files = await db.transaction().execute(async trx => {
    if (!await lockRoom(trx, roomId)) throw roomNotFound()
    if (actor.role !== 'admin') {
      const standing = await visibleStanding(trx, actor.id, roomId)
      if (standing.is_direct) throw forbidden('A direct-message room has no owner: only a site admin may delete it', 'DIRECT_ROOM')
      if (standing.role !== 'owner') throw forbidden('Only the room\'s owner and site admins may delete it', 'NOT_ALLOWED')
    }
    // Its files are marked before the room goes (the foreign keys then forget the room); deleted after the commit.
    const doomed = await markRoomFilesDeleted(trx, roomId)
    if (!await deleteRoomRow(trx, roomId)) throw roomNotFound()
    return doomed
  })
  bus.publish({ type: 'room:deleted', room_id: roomId, payload: { room_id: roomId } })
  await purgeFiles({ db, storage, log }, files)
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
