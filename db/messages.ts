import type { HistoryPage, MessageView } from '../src/schemas/messages.js'
import { sql } from 'kysely'
import type { Db } from './database.js'

/** A message as stored, with its author's name: the Message without what other tables add (reactions, attachments). */
export type MessageRow = Omit<MessageView, 'reactions' | 'attachments'>

export const columns = ['messages.id', 'messages.room_id', 'messages.user_id', 'users.username', 'messages.content', 'messages.created_at', 'messages.seq', 'messages.client_msg_id',
  'messages.edited_at', 'messages.deleted_at', 'messages.reply_to', 'messages.reply_count'] as const

/** One send of a batch: the sends that wait together are stored in one statement (see `insertMessages`). */
export interface NewMessage {
  room_id: number
  user_id: number
  content: string
  client_msg_id: string | null
  /** The message this one replies to (any message of the thread; the root is stored). */
  reply_to: number | null
}

/**
 * Stores a batch of sends, to one room or several, in one statement (group commit): each only if
 * its author is a member of its room who is not muted, its client_msg_id was not used before and its reply_to names
 * a message of that room that is not deleted. Each room's `last_seq` is bumped once by the number of
 * its sends stored, and they take consecutive seqs in the order given, so seqs stay gap-free (the
 * room's row lock serializes statements) and a refused send uses none. In the same statement: a
 * reply is stored with its thread's root (`coalesce(parent.reply_to, parent.id)`) and the root's
 * `reply_count` grows, each sender's read marker moves to their newest message in the room (never
 * back), and the room's `last_activity_at` is now. Returns, for each send in the order given, the
 * stored message or undefined when it was refused (the caller asks why: the rare path). Two sends
 * of one client_msg_id must not be in one batch; one that a concurrent statement stored after this
 * one's snapshot fails the whole statement with a unique violation (`isDuplicateClientMsgId`).
 */
export async function insertMessages (db: Db, sends: NewMessage[]): Promise<Array<MessageRow | undefined>> {
  // The sends as a relation (one array per column: the statement's text doesn't grow with the
  // batch). Kysely has no table-valued unnest with column names.
  const input = sql<{ room_id: number, user_id: number, content: string, client_msg_id: string | null, reply_to: number | null, ord: number }>`unnest(
    ${sends.map(s => s.room_id)}::integer[], ${sends.map(s => s.user_id)}::integer[], ${sends.map(s => s.content)}::text[],
    ${sends.map(s => s.client_msg_id)}::varchar[], ${sends.map(s => s.reply_to)}::integer[]) with ordinality`
    .as<'input'>(sql`input(room_id, user_id, content, client_msg_id, reply_to, ord)`)
  const rows = await db
    // The sends that pass every check, numbered per room: k-th of n. Each check is a lookup by key
    // per send: a LATERAL subquery with a LIMIT is never flattened into a join, so the planner cannot
    // hash it over a whole table (with stale statistics it did: a scan of messages per statement).
    .with('accepted', qb => qb.selectFrom(input)
      // A member who is not muted (a ban is not a membership: a banned user was removed).
      .leftJoinLateral(eb => eb.selectFrom('room_members').select(sql<boolean>`true`.as('yes'))
        .whereRef('room_members.room_id', '=', 'input.room_id').whereRef('room_members.user_id', '=', 'input.user_id')
        .where(eb => eb.or([eb('room_members.muted_until', 'is', null), eb('room_members.muted_until', '<=', sql<Date>`now()`)]))
        .limit(1).as('member'),
      join => join.onTrue())
      .leftJoinLateral(eb => eb.selectFrom('messages as earlier').select(sql<boolean>`true`.as('yes'))
        .whereRef('earlier.user_id', '=', 'input.user_id').where('earlier.client_msg_id', 'is not', null)
        .whereRef('earlier.client_msg_id', '=', 'input.client_msg_id').limit(1).as('earlier'),
      join => join.onTrue())
      // By id alone, so that only the primary key can serve it (with the room in the lookup, the
      // planner took the room's index of live messages and read the whole room for every send).
      .leftJoinLateral(eb => eb.selectFrom('messages as parent')
        .select(eb => ['parent.room_id', 'parent.deleted_at', eb.fn.coalesce('parent.reply_to', 'parent.id').as('root')])
        .whereRef('parent.id', '=', 'input.reply_to').limit(1).as('parent'),
      join => join.onTrue())
      .where('member.yes', 'is not', null)
      .where('earlier.yes', 'is', null)
      .where(eb => eb.or([eb('input.reply_to', 'is', null), eb.and([eb('parent.room_id', '=', eb.ref('input.room_id')), eb('parent.deleted_at', 'is', null)])]))
      .select(eb => [
        eb.cast<number>('input.ord', 'integer').as('ord'), 'input.room_id', 'input.user_id', 'input.content', 'input.client_msg_id', 'parent.root',
        eb.cast<number>(eb.fn.agg<number>('row_number').over(ob => ob.partitionBy('input.room_id').orderBy('input.ord')), 'integer').as('k'),
        eb.cast<number>(eb.fn.countAll().over(ob => ob.partitionBy('input.room_id')), 'integer').as('n')
      ]))
    .with('r', qb => qb.updateTable('rooms')
      // In room order, so that two statements over the same rooms (from two instances) lock them in one order.
      .from(eb => eb.selectFrom('accepted').groupBy('accepted.room_id').orderBy('accepted.room_id')
        .select(eb => ['accepted.room_id', eb.fn.max('accepted.n').as('n')]).as('counts'))
      .set(eb => ({ last_seq: eb('rooms.last_seq', '+', eb.ref('counts.n')), last_activity_at: sql`now()` }))
      .whereRef('rooms.id', '=', 'counts.room_id')
      .returning(['rooms.id', 'rooms.last_seq']))
    .with('m', qb => qb.insertInto('messages')
      .columns(['room_id', 'user_id', 'content', 'seq', 'client_msg_id', 'reply_to'])
      .expression(eb => eb.selectFrom('accepted').innerJoin('r', 'r.id', 'accepted.room_id').select(eb => [
        'accepted.room_id', 'accepted.user_id', 'accepted.content',
        eb(eb('r.last_seq', '-', eb.ref('accepted.n')), '+', eb.ref('accepted.k')).as('seq'), 'accepted.client_msg_id', 'accepted.root'
      ]))
      // What the answer shows, not every column (the search vector stays in the table).
      .returning(['id', 'room_id', 'user_id', 'content', 'created_at', 'seq', 'client_msg_id', 'edited_at', 'deleted_at', 'reply_to', 'reply_count']))
    // The roots by `= any(array)`: an index lookup whatever the statistics say (a join was planned,
    // with stale ones, as a scan of messages).
    .with('threads', qb => qb.updateTable('messages')
      .set(eb => ({
        reply_count: eb('messages.reply_count', '+', eb.selectFrom('m').select(eb => eb.cast<number>(eb.fn.countAll(), 'integer').as('n')).whereRef('m.reply_to', '=', 'messages.id'))
      }))
      .where(eb => eb('messages.id', '=', eb.fn.any(sql<number[]>`array(${eb.selectFrom('m').select('m.reply_to').where('m.reply_to', 'is not', null)})`))))
    .with('marker', qb => qb.updateTable('room_members')
      .from(eb => eb.selectFrom('m').groupBy(['m.room_id', 'm.user_id']).select(eb => ['m.room_id', 'm.user_id', eb.fn.max('m.seq').as('seq')]).as('mine'))
      .set(eb => ({ last_read_seq: eb.fn('greatest', ['room_members.last_read_seq', 'mine.seq']) }))
      .whereRef('room_members.room_id', '=', 'mine.room_id')
      .whereRef('room_members.user_id', '=', 'mine.user_id'))
    .selectFrom('accepted')
    .innerJoin('r', 'r.id', 'accepted.room_id')
    .innerJoin('m as messages', join => join.onRef('messages.room_id', '=', 'accepted.room_id')
      .on(eb => eb('messages.seq', '=', eb(eb('r.last_seq', '-', eb.ref('accepted.n')), '+', eb.ref('accepted.k')))))
    .leftJoinLateral(eb => eb.selectFrom('users').select('users.username').whereRef('users.id', '=', 'messages.user_id').limit(1).as('users'), join => join.onTrue())
    .select(['accepted.ord', ...columns])
    .execute()
  const stored: Array<MessageRow | undefined> = sends.map(() => undefined)
  for (const { ord, ...message } of rows) stored[ord - 1] = message
  return stored
}

/** Whether a message of this room that is not deleted has this id (what a reply may name). */
export async function isReplyTarget (db: Db, roomId: number, messageId: number): Promise<boolean> {
  const row = await db.selectFrom('messages').select('id')
    .where('id', '=', messageId).where('room_id', '=', roomId).where('deleted_at', 'is', null)
    .executeTakeFirst()
  return row !== undefined
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
  /** The reader's mute in that room (muted while in the future). */
  muted_until: Date | null
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
    .select([...columns, 'room_members.role as reader_role', 'room_members.muted_until as reader_muted_until'])
    .where('messages.id', '=', messageId)
    .executeTakeFirst()
  if (row === undefined) return undefined
  const { reader_role: role, reader_muted_until: mutedUntil, ...message } = row
  return { message, role, muted_until: mutedUntil }
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
