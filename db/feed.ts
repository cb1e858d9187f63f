import { sql } from 'kysely'
import type { Db } from './database.js'

/**
 * The room feed in the database. A new message is its own feed entry (its `messages` row at its
 * seq); every other change is a `room_events` row. The room's `last_seq` is the counter: taking the
 * next seq locks the room's row until commit, so a room's changes are numbered one at a time,
 * without gaps, and a change that rolls back leaves no number behind.
 */

/**
 * Locks the room's counter for the rest of the transaction and says whether the room exists.
 * Every change of a room's feed that reads before it writes (edits, deletes, reactions, joins) takes
 * this first: one lock order (room, then its rows) for every writer, sends included.
 */
export async function lockRoom (trx: Db, roomId: number): Promise<boolean> {
  const row = await trx.selectFrom('rooms').select('id').where('id', '=', roomId).forUpdate().executeTakeFirst()
  return row !== undefined
}

/**
 * Takes the room's next seq and stores the change at it, in one statement (inside the caller's
 * transaction, after `lockRoom`). `data` is the frame's payload without `seq` and `room_id`.
 * Returns the seq.
 */
export async function appendEvent (trx: Db, roomId: number, type: string, data: Record<string, unknown>, messageId: number | null = null): Promise<number> {
  const row = await trx
    .with('r', qb => qb.updateTable('rooms')
      .set(eb => ({ last_seq: eb('last_seq', '+', 1), last_activity_at: sql<Date>`now()` }))
      .where('id', '=', roomId)
      .returning(['id', 'last_seq']))
    .insertInto('room_events')
    .columns(['room_id', 'seq', 'type', 'message_id', 'data'])
    .expression(eb => eb.selectFrom('r').select([
      'r.id', 'r.last_seq', sql<string>`${type}::varchar`.as('type'), sql<number | null>`${messageId}::integer`.as('message_id'),
      sql<string>`${JSON.stringify(data)}::jsonb`.as('data')
    ]))
    .returning('seq')
    .executeTakeFirstOrThrow()
  return row.seq
}

/** One entry of the feed as stored: a message (`message:new`, `data` null) or a room event. */
export interface FeedEntry {
  seq: number
  type: string
  message_id: number | null
  data: Record<string, unknown> | null
}

/**
 * A room's feed entries after `afterSeq`, in seq order, at most `limit`: both tables, each read by
 * its (room_id, seq) index, merged. Raw SQL: Kysely puts a branch's ORDER BY and LIMIT on the union.
 */
export async function feedEntries (db: Db, roomId: number, afterSeq: number, limit: number): Promise<FeedEntry[]> {
  const { rows } = await sql<FeedEntry>`
    select seq, type, message_id, data from (
      (select seq, 'message:new' as type, id as message_id, null::jsonb as data from messages
        where room_id = ${roomId} and seq > ${afterSeq} order by seq limit ${limit})
      union all
      (select seq, type::text, message_id, data from room_events
        where room_id = ${roomId} and seq > ${afterSeq} order by seq limit ${limit})
    ) as feed order by seq limit ${limit}`.execute(db)
  return rows
}
