import type { Db } from './users.js'

export interface MessageRecord {
  id: number
  room_id: number
  user_id: number | null
  username: string | null
  content: string
  created_at: Date
}

/** Stores a message and returns it with its author's name, in one round trip. */
export async function insertMessage (db: Db, message: { room_id: number, user_id: number, content: string }): Promise<MessageRecord> {
  return await db.with('m', qb => qb.insertInto('messages').values(message).returningAll())
    .selectFrom('m')
    .leftJoin('users', 'users.id', 'm.user_id')
    .select(['m.id', 'm.room_id', 'm.user_id', 'users.username', 'm.content', 'm.created_at'])
    .executeTakeFirstOrThrow()
}

export interface HistoryPage {
  limit: number
  offset: number
  /** only messages older than this id */
  before?: number | undefined
  /** only messages newer than this id */
  after?: number | undefined
}

/**
 * A page of a room's history, returned oldest first.
 * Without `after`, `offset` counts back from the newest message (or from `before`);
 * with `after`, the page is the oldest messages after that id, `offset` counting forward.
 */
export async function listMessages (db: Db, roomId: number, page: HistoryPage): Promise<MessageRecord[]> {
  let query = db.selectFrom('messages')
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select(['messages.id', 'messages.room_id', 'messages.user_id', 'users.username', 'messages.content', 'messages.created_at'])
    .where('messages.room_id', '=', roomId)
  if (page.before !== undefined) query = query.where('messages.id', '<', page.before)
  if (page.after !== undefined) {
    return await query.where('messages.id', '>', page.after)
      .orderBy('messages.id', 'asc').limit(page.limit).offset(page.offset)
      .execute()
  }
  const newestFirst = await query.orderBy('messages.id', 'desc').limit(page.limit).offset(page.offset).execute()
  return newestFirst.reverse()
}
