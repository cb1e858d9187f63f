import type { HistoryPage, MessageView } from '../src/schemas/messages.js'
import { sql } from 'kysely'
import type { Db } from './database.js'

const columns = ['messages.id', 'messages.room_id', 'messages.user_id', 'users.username', 'messages.content', 'messages.created_at', 'messages.seq', 'messages.client_msg_id',
  'messages.edited_at', 'messages.deleted_at', 'messages.reply_to', 'messages.reply_count'] as const

/** One send of a batch: a room's messages are stored together, in one statement (see `insertMessages`). */
export interface NewMessage {
  user_id: number
  content: string
  client_msg_id: string | null
  /** The message this one replies to (any message of the thread; the root is stored). */
  reply_to: number | null
}

/** What became of one send of a batch. */
export type InsertOutcome =
  | { status: 'stored', message: MessageView }
  /** The room doesn't exist or the user isn't in it. */
  | { status: 'not_member' }
  /** The user already used this client_msg_id: stored before, or by an earlier send of this batch. */
  | { status: 'duplicate' }
  /** reply_to is not a message of this room that is not deleted. */
  | { status: 'invalid_reply_to' }

/**
 * Stores a room's sends in one statement (group commit), each only if its author is a member of
 * the room, its client_msg_id is new (also within the batch) and its reply_to names a message of
 * the room that is not deleted. The room's `last_seq` is bumped once by the number of sends
 * accepted, and they take the consecutive seqs in the order given, so seqs stay gap-free (the
 * room's row lock serializes statements): a refused send uses no seq. In the same statement: a
 * reply is stored with its thread's root (`coalesce(parent.reply_to, parent.id)`) and the root's
 * `reply_count` grows, each sender's read marker moves to their newest message (never back), and
 * the room's `last_activity_at` is now. Returns one outcome per send, in the order given.
 * A client_msg_id stored by a concurrent statement after this one's snapshot still fails the whole
 * statement with a unique violation (`isDuplicateClientMsgId`).
 */
export async function insertMessages (db: Db, roomId: number, sends: NewMessage[]): Promise<InsertOutcome[]> {
  // The sends as a relation (one array per column: the statement's size doesn't grow with the batch).
  // Kysely has no table-valued unnest with column names.
  const input = sql<{ user_id: number, content: string, client_msg_id: string | null, reply_to: number | null, ord: number }>`unnest(
    ${sends.map(s => s.user_id)}::integer[], ${sends.map(s => s.content)}::text[],
    ${sends.map(s => s.client_msg_id)}::varchar[], ${sends.map(s => s.reply_to)}::integer[]) with ordinality`
    .as<'input'>(sql`input(user_id, content, client_msg_id, reply_to, ord)`)
  const rows = await db
    .with('checked', qb => qb.selectFrom(input)
      .leftJoin('room_members as member', join => join.onRef('member.user_id', '=', 'input.user_id').on('member.room_id', '=', roomId))
      .leftJoin('messages as earlier', join => join.onRef('earlier.user_id', '=', 'input.user_id').onRef('earlier.client_msg_id', '=', 'input.client_msg_id'))
      .leftJoin('messages as parent', join => join.onRef('parent.id', '=', 'input.reply_to').on('parent.room_id', '=', roomId).on('parent.deleted_at', 'is', null))
      .select(eb => [
        eb.cast<number>('input.ord', 'integer').as('ord'), 'input.user_id', 'input.content', 'input.client_msg_id',
        eb.fn.coalesce('parent.reply_to', 'parent.id').as('root'),
        eb('member.user_id', 'is not', null).as('member'),
        eb('earlier.id', 'is not', null).as('used'),
        eb.or([eb('input.reply_to', 'is', null), eb('parent.id', 'is not', null)]).as('reply_ok')
      ]))
    .with('accepted', qb => qb.selectFrom('checked')
      .where('member', '=', true).where('used', '=', false).where('reply_ok', '=', true)
      .select(eb => ['ord', 'user_id', 'content', 'client_msg_id', 'root',
        eb.fn.agg<number>('row_number').over(ob => ob.partitionBy(['user_id', 'client_msg_id']).orderBy('ord')).as('copy')]))
    // A second send of one client_msg_id within the batch is a retry of the first.
    .with('numbered', qb => qb.selectFrom('accepted')
      .where(eb => eb.or([eb('client_msg_id', 'is', null), eb('copy', '=', 1)]))
      .select(eb => ['ord', 'user_id', 'content', 'client_msg_id', 'root',
        eb.cast<number>(eb.fn.agg<number>('row_number').over(ob => ob.orderBy('ord')), 'integer').as('k'),
        eb.cast<number>(eb.fn.countAll().over(), 'integer').as('n')]))
    .with('r', qb => qb.updateTable('rooms')
      .set(eb => ({ last_seq: eb('last_seq', '+', eb.selectFrom('numbered').select(eb => eb.cast<number>(eb.fn.countAll(), 'integer').as('n'))), last_activity_at: sql`now()` }))
      .where('id', '=', roomId)
      .where(eb => eb.exists(eb.selectFrom('numbered').select('ord')))
      .returning('last_seq'))
    .with('m', qb => qb.insertInto('messages')
      .columns(['room_id', 'user_id', 'content', 'seq', 'client_msg_id', 'reply_to'])
      .expression(eb => eb.selectFrom(['numbered', 'r']).select(eb => [
        eb.cast<number>(eb.val(roomId), 'integer').as('room_id'), 'numbered.user_id', 'numbered.content',
        eb(eb('r.last_seq', '-', eb.ref('numbered.n')), '+', eb.ref('numbered.k')).as('seq'), 'numbered.client_msg_id', 'numbered.root'
      ]))
      .returningAll())
    .with('threads', qb => qb.updateTable('messages')
      .from(eb => eb.selectFrom('m').where('m.reply_to', 'is not', null).groupBy('m.reply_to')
        .select(eb => ['m.reply_to', eb.cast<number>(eb.fn.countAll(), 'integer').as('n')]).as('replies'))
      .set(eb => ({ reply_count: eb('messages.reply_count', '+', eb.ref('replies.n')) }))
      .whereRef('messages.id', '=', 'replies.reply_to'))
    .with('marker', qb => qb.updateTable('room_members')
      .from(eb => eb.selectFrom('m').groupBy('m.user_id').select(eb => ['m.user_id', eb.fn.max('m.seq').as('seq')]).as('mine'))
      .set(eb => ({ last_read_seq: eb.fn('greatest', ['room_members.last_read_seq', 'mine.seq']) }))
      .where('room_members.room_id', '=', roomId)
      .whereRef('room_members.user_id', '=', 'mine.user_id'))
    .selectFrom('checked')
    .leftJoin('numbered', 'numbered.ord', 'checked.ord')
    .leftJoin('r', join => join.onTrue())
    .leftJoin('m as messages', join => join.on(eb => eb('messages.seq', '=', eb(eb('r.last_seq', '-', eb.ref('numbered.n')), '+', eb.ref('numbered.k')))))
    .leftJoin('users', 'users.id', 'messages.user_id')
    .select(['checked.member', 'checked.used', 'checked.reply_ok', ...columns])
    .orderBy('checked.ord')
    .execute()
  return rows.map(({ member, used, reply_ok: replyOk, ...message }): InsertOutcome => {
    if (message.id !== null) return { status: 'stored', message: message as MessageView }
    if (!member) return { status: 'not_member' }
    if (used) return { status: 'duplicate' }
    if (!replyOk) return { status: 'invalid_reply_to' }
    return { status: 'duplicate' }
  })
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
