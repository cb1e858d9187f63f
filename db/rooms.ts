import { sql } from 'kysely'
import type { RoomSummaryView, RoomView } from '../src/schemas/rooms.js'
import type { Db } from './database.js'

/** Creates a room and makes its creator the first member, in one transaction. */
export async function insertRoomWithCreator (db: Db, room: { name: string, description: string | null, created_by: number }): Promise<RoomView> {
  return await db.transaction().execute(async trx => {
    const created = await trx.insertInto('rooms').values(room)
      .returning(['id', 'name', 'description', 'created_by', 'created_at'])
      .executeTakeFirstOrThrow()
    await trx.insertInto('room_members').values({ room_id: created.id, user_id: room.created_by, role: 'owner' }).execute()
    return created
  })
}

export async function listRooms (db: Db, page: { limit: number, offset: number }): Promise<RoomSummaryView[]> {
  // One grouped count per page of rooms, not a subquery per row.
  const counts = db.selectFrom('room_members')
    .select(['room_id', eb => eb.fn.countAll<string>().as('member_count')])
    .groupBy('room_id')
    .as('counts')
  const rows = await db.selectFrom('rooms')
    .leftJoin(counts, 'counts.room_id', 'rooms.id')
    .select(['rooms.id', 'rooms.name', 'rooms.description', 'rooms.created_by', 'rooms.created_at',
      sql<string>`coalesce(counts.member_count, 0)`.as('member_count')])
    .orderBy('rooms.id').limit(page.limit).offset(page.offset)
    .execute()
  return rows.map(row => ({ ...row, member_count: Number(row.member_count) }))
}

/** What a user may do in a room: whether it exists and whether the user is a member, in one query. */
export async function roomAccess (db: Db, roomId: number, userId: number): Promise<{ exists: boolean, member: boolean }> {
  const row = await db.selectFrom('rooms')
    .leftJoin('room_members', join => join.onRef('room_members.room_id', '=', 'rooms.id').on('room_members.user_id', '=', userId))
    .select(['rooms.id', 'room_members.user_id'])
    .where('rooms.id', '=', roomId)
    .executeTakeFirst()
  return { exists: row !== undefined, member: row?.user_id != null }
}

/** A member's role in the room, or undefined when not a member. */
export async function memberRole (db: Db, roomId: number, userId: number): Promise<string | undefined> {
  const row = await db.selectFrom('room_members').select('role').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst()
  return row?.role
}

/** Adds a member whose read marker starts at `lastReadSeq` (what they joined at). */
export async function insertMember (db: Db, roomId: number, userId: number, role: string, lastReadSeq: number): Promise<void> {
  await db.insertInto('room_members').values({ room_id: roomId, user_id: userId, role, last_read_seq: lastReadSeq }).execute()
}

/** Removes a member; returns the role they had, or undefined when they were not one. */
export async function deleteMember (db: Db, roomId: number, userId: number): Promise<string | undefined> {
  const row = await db.deleteFrom('room_members').where('room_id', '=', roomId).where('user_id', '=', userId).returning('role').executeTakeFirst()
  return row?.role
}

/** The member who has been in the room longest (who takes over when its owner leaves), if any. */
export async function longestMember (db: Db, roomId: number): Promise<number | undefined> {
  const row = await db.selectFrom('room_members').select('user_id').where('room_id', '=', roomId).orderBy('joined_at').orderBy('id').limit(1).executeTakeFirst()
  return row?.user_id
}

export async function setRole (db: Db, roomId: number, userId: number, role: string): Promise<void> {
  await db.updateTable('room_members').set({ role }).where('room_id', '=', roomId).where('user_id', '=', userId).execute()
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
