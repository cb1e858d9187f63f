import { sql } from 'kysely'
import type { RoomView } from '../src/schemas/rooms.js'
import type { Db } from './database.js'

/** What a Room shows, without the viewer's role. */
const roomColumns = ['rooms.id', 'rooms.name', 'rooms.description', 'rooms.created_by', 'rooms.created_at', 'rooms.is_private', 'rooms.is_direct', 'rooms.member_count'] as const

/** Rooms as `viewerId` sees them: each a Room with the viewer's role (null: not a member). */
export function roomsSeenBy (db: Db, viewerId: number) {
  return db.selectFrom('rooms')
    .leftJoin('room_members as mine', join => join.onRef('mine.room_id', '=', 'rooms.id').on('mine.user_id', '=', viewerId))
    .select([...roomColumns, 'mine.role as my_role'])
}

type Seen<R> = Omit<R, 'my_role'> & { my_role: RoomView['my_role'] }
export const asView = <R extends { my_role: string | null }>(row: R): Seen<R> => row as Seen<R>

export interface NewRoom { name: string, description: string | null, created_by: number, is_private: boolean, is_direct?: boolean, direct_key?: string | null }

/**
 * Creates a room with its first members (the creator as `owner`; a DM's two users as `member`),
 * in one transaction. Answers the room as the creator sees it.
 */
export async function insertRoom (db: Db, room: NewRoom, members: Array<{ user_id: number, role: string }>): Promise<RoomView> {
  return await db.transaction().execute(async trx => {
    const created = await trx.insertInto('rooms').values({ ...room, member_count: members.length }).returning('id').executeTakeFirstOrThrow()
    await trx.insertInto('room_members').values(members.map(m => ({ room_id: created.id, user_id: m.user_id, role: m.role }))).execute()
    return asView(await roomsSeenBy(trx, room.created_by).where('rooms.id', '=', created.id).executeTakeFirstOrThrow())
  })
}

/** Creates a room and makes its creator its first member and owner, in one transaction. */
export async function insertRoomWithCreator (db: Db, room: { name: string, description: string | null, created_by: number, is_private?: boolean }): Promise<RoomView> {
  return await insertRoom(db, { ...room, is_private: room.is_private ?? false }, [{ user_id: room.created_by, role: 'owner' }])
}

/** A room as the viewer sees it (no visibility check: the caller made it), or undefined when there is none. */
export async function roomSeenBy (db: Db, roomId: number, viewerId: number): Promise<RoomView | undefined> {
  const row = await roomsSeenBy(db, viewerId).where('rooms.id', '=', roomId).executeTakeFirst()
  return row === undefined ? undefined : asView(row)
}

/** `\`, `%` and `_` taken literally in a LIKE pattern. */
export const likeLiteral = (text: string): string => text.replace(/[\\%_]/g, c => `\\${c}`)

/**
 * `GET /rooms`: public rooms and the private rooms the viewer is in, never DMs, by id; `q` keeps
 * those whose name contains it (case-insensitive).
 */
export async function listRooms (db: Db, viewerId: number, page: { q?: string | undefined, limit: number, offset: number }): Promise<RoomView[]> {
  const rows = await listRoomsQuery(db, viewerId, page).execute()
  return rows.map(asView)
}

/** The statement `listRooms` runs: the `ilike` is served by the trigram index rooms_name_trgm_idx (test/routes/search.test.ts reads its plan). */
export function listRoomsQuery (db: Db, viewerId: number, page: { q?: string | undefined, limit: number, offset: number }) {
  let query = roomsSeenBy(db, viewerId)
    .where('rooms.is_direct', '=', false)
    .where(eb => eb.or([eb('rooms.is_private', '=', false), eb('mine.role', 'is not', null)]))
  if (page.q !== undefined) query = query.where('rooms.name', 'ilike', `%${likeLiteral(page.q)}%`)
  return query.orderBy('rooms.id').limit(page.limit).offset(page.offset)
}

/** Where a user stands with a room, read in one query (undefined: no such room). */
export interface RoomStanding {
  is_private: boolean
  is_direct: boolean
  /** Their role, or null when not a member. */
  role: string | null
  muted_until: Date | null
  invited: boolean
  banned: boolean
}

export async function standingIn (db: Db, roomId: number, userId: number): Promise<RoomStanding | undefined> {
  const row = await db.selectFrom('rooms')
    .leftJoin('room_members', join => join.onRef('room_members.room_id', '=', 'rooms.id').on('room_members.user_id', '=', userId))
    .leftJoin('room_invites', join => join.onRef('room_invites.room_id', '=', 'rooms.id').on('room_invites.user_id', '=', userId))
    .leftJoin('room_bans', join => join.onRef('room_bans.room_id', '=', 'rooms.id').on('room_bans.user_id', '=', userId))
    .select(['rooms.is_private', 'rooms.is_direct', 'room_members.role', 'room_members.muted_until', 'room_invites.user_id as invitee', 'room_bans.user_id as banned_user'])
    .where('rooms.id', '=', roomId)
    .executeTakeFirst()
  if (row === undefined) return undefined
  const { invitee, banned_user: bannedUser, ...standing } = row
  return { ...standing, invited: invitee !== null, banned: bannedUser !== null }
}

/** Adds a member whose read marker starts at `lastReadSeq` (what they joined at). */
export async function insertMember (db: Db, roomId: number, userId: number, role: string, lastReadSeq: number): Promise<void> {
  // A mute parked when they left comes back with them (if it has not ended).
  const parked = await db.deleteFrom('parked_mutes').where('room_id', '=', roomId).where('user_id', '=', userId)
    .where('muted_until', '>', sql<Date>`now()`).returning('muted_until').executeTakeFirst()
  await db.insertInto('room_members').values({ room_id: roomId, user_id: userId, role, last_read_seq: lastReadSeq, muted_until: parked?.muted_until ?? null }).execute()
  await db.updateTable('rooms').set(eb => ({ member_count: eb('member_count', '+', 1) })).where('id', '=', roomId).execute()
}

/** Removes a member (an active mute is parked until they return); returns the role they had, or undefined when they were not one. */
export async function deleteMember (db: Db, roomId: number, userId: number): Promise<string | undefined> {
  const row = await db.deleteFrom('room_members').where('room_id', '=', roomId).where('user_id', '=', userId).returning(['role', 'muted_until']).executeTakeFirst()
  if (row === undefined) return undefined
  await db.updateTable('rooms').set(eb => ({ member_count: eb('member_count', '-', 1) })).where('id', '=', roomId).execute()
  // Leaving is no way out of a mute: it waits for them (an old parked one is replaced).
  await db.deleteFrom('parked_mutes').where('room_id', '=', roomId).where('user_id', '=', userId).execute()
  if (row.muted_until !== null && row.muted_until.getTime() > Date.now()) {
    await db.insertInto('parked_mutes').values({ room_id: roomId, user_id: userId, muted_until: row.muted_until }).execute()
  }
  return row.role
}

/** Who takes over when the owner goes: the longest-standing moderator, else member (undefined: nobody is left). */
export async function longestMember (db: Db, roomId: number): Promise<number | undefined> {
  const row = await db.selectFrom('room_members').select('user_id').where('room_id', '=', roomId)
    .orderBy(sql`role = 'moderator'`, 'desc').orderBy('joined_at').orderBy('id').limit(1).executeTakeFirst()
  return row?.user_id
}

/** Sets a member's role; returns their mute (what `member:updated` carries with the role). */
export async function setRole (db: Db, roomId: number, userId: number, role: string): Promise<Date | null> {
  const row = await db.updateTable('room_members').set({ role }).where('room_id', '=', roomId).where('user_id', '=', userId)
    .returning('muted_until').executeTakeFirst()
  return row?.muted_until ?? null
}

/** Removes a pending invite (used up by joining, declined, withdrawn, or cancelled by a ban); whether there was one. */
export async function deleteInvite (db: Db, roomId: number, userId: number): Promise<boolean> {
  const result = await db.deleteFrom('room_invites').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst()
  return result.numDeletedRows > 0n
}

export async function roomIdsOfUser (db: Db, userId: number): Promise<number[]> {
  const rows = await db.selectFrom('room_members').select('room_id').where('user_id', '=', userId).execute()
  return rows.map(r => r.room_id)
}

/** A user's rooms with each room's last seq as read now (where a new socket's live frames start), in one query. */
export async function roomsOfUser (db: Db, userId: number): Promise<Array<{ room_id: number, last_seq: number }>> {
  return await db.selectFrom('room_members')
    .innerJoin('rooms', 'rooms.id', 'room_members.room_id')
    .select(['room_members.room_id', 'rooms.last_seq'])
    .where('room_members.user_id', '=', userId)
    .execute()
}

/** Ids per query in `lastSeqsOfRooms` (a statement takes at most 65,535 parameters). */
const IDS_PER_QUERY = 10_000

/** The rooms' last seq, one query per 10,000 rooms; a room that does not exist is missing from the answer. */
export async function lastSeqsOfRooms (db: Db, roomIds: number[]): Promise<Map<number, number>> {
  const last = new Map<number, number>()
  for (let i = 0; i < roomIds.length; i += IDS_PER_QUERY) {
    const rows = await db.selectFrom('rooms').select(['id', 'last_seq']).where('id', 'in', roomIds.slice(i, i + IDS_PER_QUERY)).execute()
    for (const row of rows) last.set(row.id, row.last_seq)
  }
  return last
}

/** The ids of a room's members, ascending. */
export async function memberIdsOfRoom (db: Db, roomId: number): Promise<number[]> {
  const rows = await db.selectFrom('room_members').select('user_id').where('room_id', '=', roomId).orderBy('user_id').execute()
  return rows.map(r => r.user_id)
}

/** What `PATCH /rooms/{id}` may change, already normalized (a name trimmed, an empty description null). */
export interface RoomChanges { name?: string, description?: string | null, is_private?: boolean }

/** Changes a room's name, description or privacy (inside the caller's transaction, under the room's lock). */
export async function updateRoomFields (db: Db, roomId: number, changes: RoomChanges): Promise<void> {
  await db.updateTable('rooms').set({ ...changes, updated_at: sql<Date>`now()` }).where('id', '=', roomId).execute()
}

/**
 * Deletes a room; its members, invites, bans, messages (with their reactions) and feed go with it
 * (every foreign key to `rooms` and `messages` cascades). Whether there was one.
 */
export async function deleteRoomRow (db: Db, roomId: number): Promise<boolean> {
  const result = await db.deleteFrom('rooms').where('id', '=', roomId).executeTakeFirst()
  return result.numDeletedRows > 0n
}
