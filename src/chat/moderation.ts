import { appendEvent, lockRoom } from '../../db/feed.js'
import { deleteBan, findMember, insertBan, listBans, listMembers, type MemberRow, setMute, userExists } from '../../db/moderation.js'
import { deleteInvite, setRole } from '../../db/rooms.js'
import type { Db } from '../../db/database.js'
import { forbidden, notFound } from '../errors.js'
import type { RoomBanView, RoomMemberView, RoomRoleName } from '../schemas/rooms.js'
import { assertMember, isMuted, MUTED_FOREVER, notAMember, roomNotFound, visibleStanding } from './access.js'
import type { ChatBus, RoomFeedEvent } from './events.js'
import { isoOrNull } from './feed.js'
import { assertNotDirect, removeMember } from './rooms.js'

/**
 * Room moderation (CONTRACT.md Part 2, "Rooms"): the member list, roles, kicks, bans and mutes.
 * The rules, for every route here:
 * - the room must be one the actor may see (404 ROOM_NOT_FOUND), and they a member of it (403
 *   NOT_A_MEMBER), and it not a DM (403 DIRECT_ROOM);
 * - the owner changes roles; the owner and moderators kick, ban and mute; a plain member does
 *   none of it (403 NOT_ALLOWED);
 * - moderation never reaches up: a moderator acts on plain members only (and on non-members, for
 *   bans), the owner on anyone but themself; nobody acts on themself (403 NOT_ALLOWED);
 * - kicks, role changes and mutes are about members (404 MEMBER_NOT_FOUND otherwise); a ban may
 *   come before the user ever joins.
 * Every change happens under the room's lock, in one transaction with its feed frames, which are
 * published after the commit.
 */

interface Deps { db: Db, bus: ChatBus }

const notAllowed = (message: string): Error => forbidden(message, 'NOT_ALLOWED')
const memberNotFound = (): Error => notFound('That user is not a member of this room', 'MEMBER_NOT_FOUND')

/** A member as the API shows them: a mute that has ended is no mute. */
function memberView (row: MemberRow): RoomMemberView {
  return {
    user_id: row.user_id,
    username: row.username,
    role: row.role as RoomRoleName,
    joined_at: row.joined_at,
    muted_until: isMuted(row) ? row.muted_until : null
  }
}

/** Appends `member:updated` (the member's role and mute now) to the feed; returns the event to publish. */
async function memberUpdated (trx: Db, roomId: number, userId: number, role: string, mutedUntil: Date | null): Promise<RoomFeedEvent> {
  const data = { user_id: userId, role: role as RoomRoleName, muted_until: isMuted({ muted_until: mutedUntil }) ? isoOrNull(mutedUntil) : null }
  const seq = await appendEvent(trx, roomId, 'member:updated', data)
  return { type: 'member:updated', room_id: roomId, payload: { seq, room_id: roomId, ...data } }
}

/** What a moderation step knows: its transaction, the room, who acts and their role there. */
interface Act { trx: Db, roomId: number, actorId: number, actorRole: string }

/**
 * Runs `change` in a transaction holding the room's lock, once the actor is found to be a member
 * of a room they may see that is not a DM; publishes the events it returns after the commit.
 */
async function moderate<T> ({ db, bus }: Deps, actorId: number, roomId: number, change: (act: Act) => Promise<{ result: T, events?: RoomFeedEvent[] }>): Promise<T> {
  const { result, events } = await db.transaction().execute(async trx => {
    if (!await lockRoom(trx, roomId)) throw roomNotFound()
    const standing = await visibleStanding(trx, actorId, roomId)
    if (standing.role === null) throw notAMember()
    assertNotDirect(standing)
    return await change({ trx, roomId, actorId, actorRole: standing.role })
  })
  for (const event of events ?? []) bus.publish(event)
  return result
}

/** The owner and moderators moderate; nobody acts on themself. */
function assertModerator ({ actorId, actorRole }: Act, targetId: number): void {
  if (actorRole !== 'owner' && actorRole !== 'moderator') throw notAllowed('Only the room\'s owner and moderators may do this')
  if (targetId === actorId) throw notAllowed('You cannot do this to yourself')
}

/** Moderation never reaches up: a moderator acts on plain members only (`targetRole` null: not a member). */
function assertReaches ({ actorRole }: Act, targetRole: string | null): void {
  if (actorRole === 'moderator' && (targetRole === 'owner' || targetRole === 'moderator')) {
    throw notAllowed('A moderator cannot do this to the owner or another moderator')
  }
}

/** The member a kick, role change or mute is about: 404 MEMBER_NOT_FOUND when there is none. */
async function targetMember (act: Act, targetId: number): Promise<MemberRow> {
  const target = await findMember(act.trx, act.roomId, targetId)
  if (target === undefined) throw memberNotFound()
  return target
}

/** `GET /rooms/{id}/members`: a page of the members in the order they joined (members only; a DM's two as well: listing is no moderation). */
export async function roomMembers ({ db }: { db: Db }, userId: number, roomId: number, page: { limit: number, offset: number }): Promise<RoomMemberView[]> {
  await assertMember(db, userId, roomId)
  return (await listMembers(db, roomId, page)).map(memberView)
}

/**
 * Changes a member's role (the owner only). `owner` hands the room over: the member becomes the
 * owner, then the old owner a moderator (two `member:updated`, in that order). The role they have
 * already: answered, nothing published.
 */
export async function changeRole (deps: Deps, actorId: number, roomId: number, targetId: number, role: RoomRoleName): Promise<RoomMemberView> {
  return await moderate(deps, actorId, roomId, async act => {
    if (act.actorRole !== 'owner') throw notAllowed('Only the room\'s owner may change roles')
    if (targetId === actorId) throw notAllowed('You cannot change your own role (hand the room over with role owner instead)')
    const target = await targetMember(act, targetId)
    const changed = { ...target, role }
    if (target.role === role) return { result: memberView(changed) }
    await setRole(act.trx, roomId, targetId, role)
    const events = [await memberUpdated(act.trx, roomId, targetId, role, target.muted_until)]
    if (role === 'owner') {
      const mutedUntil = await setRole(act.trx, roomId, actorId, 'moderator')
      events.push(await memberUpdated(act.trx, roomId, actorId, 'moderator', mutedUntil))
    }
    return { result: memberView(changed), events }
  })
}

/** Kicks a member out (`member:left`, reason `kicked`); they may join a public room again. */
export async function kickMember (deps: Deps, actorId: number, roomId: number, targetId: number): Promise<void> {
  await moderate(deps, actorId, roomId, async act => {
    assertModerator(act, targetId)
    assertReaches(act, (await targetMember(act, targetId)).role)
    return { result: undefined, events: await removeMember(act.trx, roomId, targetId, 'kicked') }
  })
}

/**
 * Bans a user, member or not (404 USER_NOT_FOUND for an id nobody has): a member is removed
 * (`member:left`, reason `banned`), any invite goes, and joining and being invited are refused
 * until the ban is lifted. Banned already: nothing changes.
 */
export async function banUser (deps: Deps, actorId: number, roomId: number, targetId: number): Promise<void> {
  await moderate(deps, actorId, roomId, async act => {
    assertModerator(act, targetId)
    const target = await findMember(act.trx, roomId, targetId)
    if (target === undefined && !await userExists(act.trx, targetId)) throw notFound('User not found', 'USER_NOT_FOUND')
    assertReaches(act, target?.role ?? null)
    const events = target === undefined ? undefined : await removeMember(act.trx, roomId, targetId, 'banned')
    await deleteInvite(act.trx, roomId, targetId)
    await insertBan(act.trx, roomId, targetId, actorId)
    return { result: undefined, events }
  })
}

/** Lifts a ban (owner, moderators); not banned: nothing changes. Nothing is published: the ban was never in the feed. */
export async function unbanUser (deps: Deps, actorId: number, roomId: number, targetId: number): Promise<void> {
  await moderate(deps, actorId, roomId, async act => {
    assertModerator(act, targetId)
    await deleteBan(act.trx, roomId, targetId)
    return { result: undefined }
  })
}

/** Mutes a member for `minutes`, or until unmuted (`MUTED_FOREVER`); `member:updated` carries the new `muted_until`. */
export async function muteMember (deps: Deps, actorId: number, roomId: number, targetId: number, minutes: number | undefined): Promise<void> {
  await moderate(deps, actorId, roomId, async act => {
    assertModerator(act, targetId)
    const target = await targetMember(act, targetId)
    assertReaches(act, target.role)
    const until = minutes === undefined ? MUTED_FOREVER : new Date(Date.now() + minutes * 60_000)
    await setMute(act.trx, roomId, targetId, until)
    return { result: undefined, events: [await memberUpdated(act.trx, roomId, targetId, target.role, until)] }
  })
}

/** Lifts a member's mute (`member:updated` with `muted_until` null); not muted (or the mute has ended): nothing published. */
export async function unmuteMember (deps: Deps, actorId: number, roomId: number, targetId: number): Promise<void> {
  await moderate(deps, actorId, roomId, async act => {
    assertModerator(act, targetId)
    const target = await targetMember(act, targetId)
    assertReaches(act, target.role)
    if (target.muted_until === null) return { result: undefined }
    await setMute(act.trx, roomId, targetId, null)
    return { result: undefined, events: isMuted(target) ? [await memberUpdated(act.trx, roomId, targetId, target.role, null)] : undefined }
  })
}

/** `GET /rooms/{id}/bans`: a page of the room's bans, oldest first (owner, moderators). */
export async function roomBans ({ db }: { db: Db }, userId: number, roomId: number, page: { limit: number, offset: number }): Promise<RoomBanView[]> {
  const standing = await assertMember(db, userId, roomId)
  assertNotDirect(standing)
  if (standing.role !== 'owner' && standing.role !== 'moderator') throw notAllowed('Only the room\'s owner and moderators may see its bans')
  return await listBans(db, roomId, page)
}
