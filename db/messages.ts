import type { HistoryPage, MessageView } from '../src/schemas/messages.js'
import type { Db } from './database.js'

const columns = ['messages.id', 'messages.room_id', 'messages.user_id', 'users.username', 'messages.content', 'messages.created_at', 'messages.seq', 'messages.client_msg_id'] as const

/**
 * Stores a message and returns it with its author's name, in one statement: the room's `last_seq`
 * is incremented and the message takes the new value, so sequence numbers are gap-free and strictly
 * increasing per room (concurrent sends to one room wait on the room's row). Only a member's
 * message is stored: undefined when the room doesn't exist or the user isn't in it (the one round
 * trip of a send checks membership too). Nothing is stored (no row, no number used) when the
 * statement fails, e.g. on a duplicate client_msg_id.
 */
export async function insertMessage (db: Db, message: { room_id: number, user_id: number, content: string, client_msg_id?: string | undefined }): Promise<MessageView | undefined> {
  return await db
    .with('r', qb => qb.updateTable('rooms').set(eb => ({ last_seq: eb('last_seq', '+', 1) }))
      .where('id', '=', message.room_id)
      .where(eb => eb.exists(eb.selectFrom('room_members').select('room_members.user_id')
        .where('room_members.room_id', '=', message.room_id).where('room_members.user_id', '=', message.user_id)))
      .returning(['id', 'last_seq']))
    .with('m', qb => qb.insertInto('messages')
      .columns(['room_id', 'user_id', 'content', 'seq', 'client_msg_id'])
      .expression(eb => eb.selectFrom('r').select(eb => [
        'r.id', eb.cast(eb.val(message.user_id), 'integer').as('user_id'), eb.val(message.content).as('content'), 'r.last_seq',
        eb.val(message.client_msg_id ?? null).as('client_msg_id')
      ]))
      .returningAll())
    .selectFrom('m as messages')
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select(columns)
    .executeTakeFirst()
}

/** True when `err` is the unique violation of (user_id, client_msg_id): the send was a retry. */
export function isDuplicateClientMsgId (err: unknown): boolean {
  const { code, constraint } = err as { code?: unknown, constraint?: unknown }
  return code === '23505' && constraint === 'messages_user_id_client_msg_id_key'
}

/** The message a user sent with this client_msg_id, if any. */
export async function findByClientMsgId (db: Db, userId: number, clientMsgId: string): Promise<MessageView | undefined> {
  return await db.selectFrom('messages')
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select(columns)
    .where('messages.user_id', '=', userId)
    .where('messages.client_msg_id', '=', clientMsgId)
    .executeTakeFirst()
}

/** Messages of a room after `seq`, in order, at most `limit` (catch-up after a reconnect). */
export async function messagesAfterSeq (db: Db, roomId: number, seq: number, limit: number): Promise<MessageView[]> {
  return await db.selectFrom('messages')
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select(columns)
    .where('messages.room_id', '=', roomId)
    .where('messages.seq', '>', seq)
    .orderBy('messages.seq')
    .limit(limit)
    .execute()
}

/**
 * A page of a room's history, returned oldest first.
 * Without `after`, `offset` counts back from the newest message (or from `before`);
 * with `after`, the page is the oldest messages after that id, `offset` counting forward.
 */
export async function listMessages (db: Db, roomId: number, page: HistoryPage): Promise<MessageView[]> {
  let query = db.selectFrom('messages')
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select(columns)
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
