import { sql } from 'kysely'
import type { Db } from './database.js'

/**
 * Moves a member's read marker forward to `seq` (never past the room's last seq, never backwards).
 * Returns the marker now, or undefined when the user is not a member.
 */
export async function advanceReadMarker (db: Db, roomId: number, userId: number, seq: number): Promise<number | undefined> {
  const row = await db.updateTable('room_members')
    .from('rooms')
    .set({ last_read_seq: sql<number>`greatest(room_members.last_read_seq, least(${seq}::integer, rooms.last_seq))` })
    .whereRef('rooms.id', '=', 'room_members.room_id')
    .where('room_members.room_id', '=', roomId)
    .where('room_members.user_id', '=', userId)
    .returning('room_members.last_read_seq')
    .executeTakeFirst()
  return row?.last_read_seq
}

/**
 * The room's messages after `afterSeq` that are not deleted and not the user's own: an index-only
 * range scan of the unread part (messages_room_live_seq_idx), never the room's whole history.
 */
export async function unreadCount (db: Db, roomId: number, userId: number, afterSeq: number): Promise<number> {
  const row = await db.selectFrom('messages')
    .select(eb => eb.fn.countAll<string>().as('count'))
    .where('room_id', '=', roomId)
    .where('seq', '>', afterSeq)
    .where('deleted_at', 'is', null)
    .where('user_id', 'is distinct from', userId)
    .executeTakeFirstOrThrow()
  return Number(row.count)
}

export interface MyRoomRow {
  id: number
  name: string
  description: string | null
  created_by: number | null
  created_at: Date
  role: string
  last_read_seq: number
  unread_count: number
  last_message_id: number | null
}

/**
 * A page of the user's rooms, most recent activity first, each with the user's role, read marker,
 * unread count and the id of its last message that is not deleted. One query; per room, two index
 * probes on messages_room_live_seq_idx (the unread part, and the newest entry), so its cost follows
 * the rooms and what is unread in them, not their history.
 */
export async function roomsOfMember (db: Db, userId: number, page: { limit: number, offset: number }): Promise<MyRoomRow[]> {
  const rows = await db.selectFrom('room_members')
    .innerJoin('rooms', 'rooms.id', 'room_members.room_id')
    .select(eb => [
      'rooms.id', 'rooms.name', 'rooms.description', 'rooms.created_by', 'rooms.created_at',
      'room_members.role', 'room_members.last_read_seq',
      eb.selectFrom('messages').select(eb => eb.fn.countAll<string>().as('n'))
        .whereRef('messages.room_id', '=', 'rooms.id')
        .whereRef('messages.seq', '>', 'room_members.last_read_seq')
        .where('messages.deleted_at', 'is', null)
        .where('messages.user_id', 'is distinct from', userId)
        .as('unread_count'),
      eb.selectFrom('messages').select('messages.id')
        .whereRef('messages.room_id', '=', 'rooms.id')
        .where('messages.deleted_at', 'is', null)
        .orderBy('messages.seq', 'desc').limit(1)
        .as('last_message_id')
    ])
    .where('room_members.user_id', '=', userId)
    .orderBy('rooms.last_activity_at', 'desc').orderBy('rooms.id', 'desc')
    .limit(page.limit).offset(page.offset)
    .execute()
  return rows.map(row => ({ ...row, unread_count: Number(row.unread_count ?? 0), last_message_id: row.last_message_id ?? null }))
}
