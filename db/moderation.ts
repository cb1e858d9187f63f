import type { Db } from './database.js'

/**
 * Room moderation's queries (CONTRACT.md Part 2, "Rooms"): who is in a room and how, mutes, bans.
 * Membership itself (adding, removing, roles) is in db/rooms.ts.
 */

/** A member as stored: `muted_until` as it is in the row (src/chat/moderation.ts hides a mute that has ended). */
export interface MemberRow {
  user_id: number
  username: string
  role: string
  joined_at: Date
  muted_until: Date | null
}

const memberColumns = ['room_members.user_id', 'users.username', 'room_members.role', 'room_members.joined_at', 'room_members.muted_until'] as const

function members (db: Db, roomId: number) {
  return db.selectFrom('room_members')
    .innerJoin('users', 'users.id', 'room_members.user_id')
    .select(memberColumns)
    .where('room_members.room_id', '=', roomId)
}

/** A page of a room's members in the order they joined. */
export async function listMembers (db: Db, roomId: number, page: { limit: number, offset: number }): Promise<MemberRow[]> {
  return await members(db, roomId).orderBy('room_members.id').limit(page.limit).offset(page.offset).execute()
}

/** One member of a room, or undefined when the user is not one. */
export async function findMember (db: Db, roomId: number, userId: number): Promise<MemberRow | undefined> {
  return await members(db, roomId).where('room_members.user_id', '=', userId).executeTakeFirst()
}

/** Sets (a Date) or lifts (null) a member's mute; whether they were a member. */
export async function setMute (db: Db, roomId: number, userId: number, until: Date | null): Promise<boolean> {
  const result = await db.updateTable('room_members').set({ muted_until: until })
    .where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** Bans a user from a room (member or not); a second ban keeps the first. Whether this one was new. */
export async function insertBan (db: Db, roomId: number, userId: number, bannedBy: number): Promise<boolean> {
  const rows = await db.insertInto('room_bans').values({ room_id: roomId, user_id: userId, banned_by: bannedBy })
    .onConflict(oc => oc.columns(['room_id', 'user_id']).doNothing())
    .returning('user_id').execute()
  return rows.length > 0
}

/** Lifts a ban; whether there was one. */
export async function deleteBan (db: Db, roomId: number, userId: number): Promise<boolean> {
  const result = await db.deleteFrom('room_bans').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst()
  return result.numDeletedRows > 0n
}

export interface BanRow { user_id: number, username: string, banned_by: number | null, created_at: Date }

/** A page of a room's bans, oldest first. */
export async function listBans (db: Db, roomId: number, page: { limit: number, offset: number }): Promise<BanRow[]> {
  return await db.selectFrom('room_bans')
    .innerJoin('users', 'users.id', 'room_bans.user_id')
    .select(['room_bans.user_id', 'users.username', 'room_bans.banned_by', 'room_bans.created_at'])
    .where('room_bans.room_id', '=', roomId)
    .orderBy('room_bans.created_at').orderBy('room_bans.user_id')
    .limit(page.limit).offset(page.offset)
    .execute()
}

/** Whether a user with this id exists (a pre-emptive ban names someone real). */
export async function userExists (db: Db, userId: number): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()
  return row !== undefined
}
