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
  is_private: boolean
  is_direct: boolean
  member_count: number
  role: string
  last_read_seq: number
  unread_count: number
  last_message_id: number | null
}

/**
 * A page of the user's rooms, most recent activity first, each with the user's role, read marker,
 * unread count and the id of its last message that is not deleted. One query: the page of rooms is
 * chosen first (the member's rooms by room_members_user_id_idx, sorted by activity), and only the
 * rooms on it get their two index probes on messages (the unread part of
 * messages_room_live_seq_idx, and the newest live entry), so its cost follows the page and what is
 * unread on it: neither the rooms' history nor the rooms skipped by `offset`.
 */
export async function roomsOfMember (db: Db, userId: number, page: { limit: number, offset: number }): Promise<MyRoomRow[]> {
  const rows = await db
    .with('page', qb => qb.selectFrom('room_members')
      .innerJoin('rooms', 'rooms.id', 'room_members.room_id')
      .select([
        'rooms.id', 'rooms.name', 'rooms.description', 'rooms.created_by', 'rooms.created_at', 'rooms.is_private', 'rooms.is_direct', 'rooms.member_count', 'rooms.last_activity_at',
        'room_members.role', 'room_members.last_read_seq'
      ])
      .where('room_members.user_id', '=', userId)
      .orderBy('rooms.last_activity_at', 'desc').orderBy('rooms.id', 'desc')
      .limit(page.limit).offset(page.offset))
    .selectFrom('page')
    .select(eb => [
      'page.id', 'page.name', 'page.description', 'page.created_by', 'page.created_at', 'page.is_private', 'page.is_direct', 'page.member_count', 'page.role', 'page.last_read_seq',
      eb.selectFrom('messages').select(eb => eb.fn.countAll<string>().as('n'))
        .whereRef('messages.room_id', '=', 'page.id')
        .whereRef('messages.seq', '>', 'page.last_read_seq')
        .where('messages.deleted_at', 'is', null)
        .where('messages.user_id', 'is distinct from', userId)
        .as('unread_count'),
      eb.selectFrom('messages').select('messages.id')
        .whereRef('messages.room_id', '=', 'page.id')
        .where('messages.deleted_at', 'is', null)
        .orderBy('messages.seq', 'desc').limit(1)
        .as('last_message_id')
    ])
    .orderBy('page.last_activity_at', 'desc').orderBy('page.id', 'desc')
    .execute()
  return rows.map(row => ({ ...row, unread_count: Number(row.unread_count ?? 0), last_message_id: row.last_message_id ?? null }))
}
