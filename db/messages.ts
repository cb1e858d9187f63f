import { sql } from 'kysely'
import type { HistoryPage, MessageView } from '../src/schemas/messages.js'
import type { Db } from './database.js'

/** A message as stored, with its author's name: the Message without what other tables add (reactions, attachments). */
export type MessageRow = Omit<MessageView, 'reactions' | 'attachments'>

export const columns = ['messages.id', 'messages.room_id', 'messages.user_id', 'users.username', 'messages.content', 'messages.created_at', 'messages.seq', 'messages.client_msg_id',
  'messages.edited_at', 'messages.deleted_at', 'messages.reply_to', 'messages.reply_count'] as const

/**
 * Stores a message and returns it with its author's name, in one statement: the room's `last_seq`
 * is incremented and the message takes the new value, so sequence numbers are gap-free and strictly
 * increasing per room (concurrent sends to one room wait on the room's row). Only a member's
 * message is stored: undefined when the room doesn't exist or the user isn't in it (the one round
 * trip of a send checks membership too). Nothing is stored (no row, no number used) when the
 * statement fails, e.g. on a duplicate client_msg_id.
 */
export async function insertMessage (db: Db, message: { room_id: number, user_id: number, content: string, client_msg_id?: string | undefined }): Promise<MessageRow | undefined> {
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
export async function findByClientMsgId (db: Db, userId: number, clientMsgId: string): Promise<MessageRow | undefined> {
  return await db.selectFrom('messages')
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select(columns)
    .where('messages.user_id', '=', userId)
    .where('messages.client_msg_id', '=', clientMsgId)
    .executeTakeFirst()
}

/** Messages of a room after `seq`, in order, at most `limit` (catch-up after a reconnect). */
export async function messagesAfterSeq (db: Db, roomId: number, seq: number, limit: number): Promise<MessageRow[]> {
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
export async function listMessages (db: Db, roomId: number, page: HistoryPage): Promise<MessageRow[]> {
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

/** A message and whether `userId` may read it (a member of its room), as read inside a transaction holding the room's lock. */
export interface MessageAccess {
  message: MessageRow
  /** The reader's role in the message's room, or null when not a member. */
  role: string | null
}

/** The room a message is in, or undefined when there is no such message. */
export async function roomOfMessage (db: Db, messageId: number): Promise<number | undefined> {
  const row = await db.selectFrom('messages').select('room_id').where('id', '=', messageId).executeTakeFirst()
  return row?.room_id
}

/** A message with the reader's membership of its room, in one query. */
export async function messageFor (db: Db, messageId: number, userId: number): Promise<MessageAccess | undefined> {
  const row = await db.selectFrom('messages')
    .leftJoin('users', 'users.id', 'messages.user_id')
    .leftJoin('room_members', join => join.onRef('room_members.room_id', '=', 'messages.room_id').on('room_members.user_id', '=', userId))
    .select([...columns, 'room_members.role as reader_role'])
    .where('messages.id', '=', messageId)
    .executeTakeFirst()
  if (row === undefined) return undefined
  const { reader_role: role, ...message } = row
  return { message, role }
}

/** A message as stored now. */
export async function messageById (db: Db, messageId: number): Promise<MessageRow | undefined> {
  return await db.selectFrom('messages')
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select(columns)
    .where('messages.id', '=', messageId)
    .executeTakeFirst()
}

/** Messages by id, in no particular order (what a replay of edits reads). */
export async function messagesByIds (db: Db, ids: number[]): Promise<MessageRow[]> {
  if (ids.length === 0) return []
  return await db.selectFrom('messages')
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select(columns)
    .where('messages.id', 'in', ids)
    .execute()
}

/** New content for a message; returns when it was edited. */
export async function updateContent (db: Db, messageId: number, content: string): Promise<Date> {
  const row = await db.updateTable('messages').set({ content, edited_at: sql<Date>`now()` })
    .where('id', '=', messageId).returning('edited_at').executeTakeFirstOrThrow()
  return row.edited_at as Date
}

/**
 * Makes a message a tombstone: its content goes (never to be sent again), its place stays. A
 * deleted reply no longer counts in its root's `reply_count`.
 */
export async function markDeleted (db: Db, message: MessageRow): Promise<void> {
  await db.updateTable('messages').set({ content: '', deleted_at: sql<Date>`now()` }).where('id', '=', message.id).execute()
  if (message.reply_to !== null) {
    await db.updateTable('messages').set(eb => ({ reply_count: eb('reply_count', '-', 1) }))
      .where('id', '=', message.reply_to).where('reply_count', '>', 0).execute()
  }
}

/** A page of a thread's replies by seq, oldest first: the newest `limit` (or those before `before`), or the oldest after `after`. */
export async function listReplies (db: Db, rootId: number, page: { limit: number, before?: number | undefined, after?: number | undefined }): Promise<MessageRow[]> {
  let query = db.selectFrom('messages')
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select(columns)
    .where('messages.reply_to', '=', rootId)
  if (page.after !== undefined) {
    return await query.where('messages.seq', '>', page.after).orderBy('messages.seq', 'asc').limit(page.limit).execute()
  }
  if (page.before !== undefined) query = query.where('messages.seq', '<', page.before)
  const newestFirst = await query.orderBy('messages.seq', 'desc').limit(page.limit).execute()
  return newestFirst.reverse()
}
