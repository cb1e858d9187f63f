import { lockRoom } from '../../db/feed.js'
import { findInvite, insertInvite, invitesOfUser } from '../../db/invites.js'
import { deleteInvite, roomSeenBy, standingIn } from '../../db/rooms.js'
import { findAuthState } from '../../db/users.js'
import type { Db } from '../../db/database.js'
import { badRequest, conflict, forbidden, notFound } from '../errors.js'
import type { MyInviteView, RoomInviteView } from '../schemas/rooms.js'
import { notAMember, roomNotFound, visibleStanding } from './access.js'
import type { ChatBus } from './events.js'
import { assertNotDirect } from './rooms.js'

interface Deps { db: Db, bus: ChatBus }

export const userNotFound = (): Error => notFound('User not found', 'USER_NOT_FOUND')

/** 404 USER_NOT_FOUND unless the user exists and is not disabled; returns their username. */
export async function activeUser (db: Db, userId: number): Promise<{ username: string }> {
  const user = await findAuthState(db, userId)
  if (user === undefined || user.disabled_at !== null) throw userNotFound()
  return user
}

/**
 * A member invites a user to the room (public or private; not a DM: 403 DIRECT_ROOM). Refused:
 * yourself (400 CANNOT_INVITE_SELF), an unknown or disabled user (404 USER_NOT_FOUND), a member
 * (409 ALREADY_MEMBER), a user banned from the room (403 BANNED). Under the room's lock, so a
 * concurrent ban or join sees the invite or none. After the commit the invitee's sockets get
 * `room:invited` with the room as they see it. Inviting again changes nothing and notifies no
 * one: `created` is false and the invite is the one that was there.
 */
export async function inviteToRoom ({ db, bus }: Deps, inviterId: number, roomId: number, inviteeId: number): Promise<{ invite: RoomInviteView, created: boolean }> {
  if (inviteeId === inviterId) throw badRequest('You cannot invite yourself', 'CANNOT_INVITE_SELF')
  const result = await db.transaction().execute(async trx => {
    if (!await lockRoom(trx, roomId)) throw roomNotFound()
    const standing = await visibleStanding(trx, inviterId, roomId)
    if (standing.role === null) throw notAMember()
    assertNotDirect(standing)
    await activeUser(trx, inviteeId)
    const invitee = await standingIn(trx, roomId, inviteeId)
    if (invitee === undefined) throw roomNotFound()
    if (invitee.role !== null) throw conflict('That user is already a member of this room', 'ALREADY_MEMBER')
    if (invitee.banned) throw forbidden('That user is banned from this room', 'BANNED')
    const created = await insertInvite(trx, roomId, inviteeId, inviterId)
    if (created === undefined) return { invite: (await findInvite(trx, roomId, inviteeId))!, room: undefined }
    return { invite: created, room: await roomSeenBy(trx, roomId, inviteeId) }
  })
  if (result.room !== undefined) bus.publish({ type: 'room:invited', user_id: inviteeId, payload: { room: result.room, invited_by: inviterId } })
  return { invite: result.invite, created: result.room !== undefined }
}

/**
 * Removes a pending invite: the invitee declines it, or the inviter, the room's owner or a
 * moderator withdraws it (anyone else: 403 NOT_ALLOWED). 404 ROOM_NOT_FOUND for a room the actor
 * may not see, 404 INVITE_NOT_FOUND when there is no such invite, 403 DIRECT_ROOM in a DM. No
 * frame: nobody else saw the invite.
 */
export async function removeInvite ({ db }: { db: Db }, actorId: number, roomId: number, inviteeId: number): Promise<void> {
  await db.transaction().execute(async trx => {
    if (!await lockRoom(trx, roomId)) throw roomNotFound()
    const standing = await visibleStanding(trx, actorId, roomId)
    assertNotDirect(standing)
    const invite = await findInvite(trx, roomId, inviteeId)
    if (invite === undefined) throw notFound('No such invite', 'INVITE_NOT_FOUND')
    const allowed = actorId === inviteeId || actorId === invite.invited_by || standing.role === 'owner' || standing.role === 'moderator'
    if (!allowed) throw forbidden('Only the invitee, the inviter, the owner or a moderator may remove an invite', 'NOT_ALLOWED')
    await deleteInvite(trx, roomId, inviteeId)
  })
}

/** Your pending invites, newest first, each with its room. */
export async function myInvites ({ db }: { db: Db }, userId: number, page: { limit: number, offset: number }): Promise<MyInviteView[]> {
  return await invitesOfUser(db, userId, page)
}
