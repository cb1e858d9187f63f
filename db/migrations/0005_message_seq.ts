import { type Kysely, sql } from 'kysely'

/**
 * Per-room ordering and idempotent sends.
 * - `rooms.last_seq`: the last sequence number given out in the room; a send increments it in the
 *   same statement that inserts the message, so `messages.seq` is gap-free and strictly increasing
 *   per room (unique (room_id, seq)).
 * - `messages.client_msg_id`: an optional id the client chose; unique per author, so a retried send
 *   finds the original instead of storing a second copy.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('rooms').addColumn('last_seq', 'integer', col => col.notNull().defaultTo(0)).execute()
  await db.schema.alterTable('messages').addColumn('seq', 'integer').execute()
  await db.schema.alterTable('messages').addColumn('client_msg_id', 'varchar(64)').execute()
  // Messages stored before this migration get their order by id.
  await sql`update messages set seq = numbered.seq
    from (select id, row_number() over (partition by room_id order by id) as seq from messages) as numbered
    where messages.id = numbered.id`.execute(db)
  await sql`update rooms set last_seq = coalesce((select max(seq) from messages where messages.room_id = rooms.id), 0)`.execute(db)
  await db.schema.alterTable('messages').alterColumn('seq', col => col.setNotNull()).execute()
  // Also the index catch-up (`seq > n` in one room, in order) reads.
  await db.schema.alterTable('messages').addUniqueConstraint('messages_room_id_seq_key', ['room_id', 'seq']).execute()
  await db.schema.createIndex('messages_user_id_client_msg_id_key').on('messages').columns(['user_id', 'client_msg_id']).unique()
    .where(sql.ref('client_msg_id'), 'is not', null).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('messages_user_id_client_msg_id_key').execute()
  await db.schema.alterTable('messages').dropConstraint('messages_room_id_seq_key').execute()
  await db.schema.alterTable('messages').dropColumn('client_msg_id').execute()
  await db.schema.alterTable('messages').dropColumn('seq').execute()
  await db.schema.alterTable('rooms').dropColumn('last_seq').execute()
}
