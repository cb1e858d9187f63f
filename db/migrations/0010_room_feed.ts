import { type Kysely, sql } from 'kysely'

/**
 * The room feed, and what it numbers (CONTRACT.md Part 2, "The room feed", "Messages", "Read state").
 * - A message is its own feed entry (`messages.seq`, `message:new`); every other change a room's
 *   members can see is a `room_events` row at the room's next seq, taken in the statement or
 *   transaction that makes the change. Replay = both, merged by seq.
 * - `messages`: `edited_at`, `deleted_at` (a tombstone keeps its row and place), `reply_to` (the
 *   thread root), `reply_count` (the root's replies that are not deleted).
 * - `reactions`: one row per (message, user, emoji); `id` orders emojis by first use.
 * - `room_members`: `role` (`owner` for the creator, else `member`) and `last_read_seq`.
 * - `rooms.last_activity_at`: when the room's feed last moved (`GET /users/me/rooms` orders by it).
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('messages')
    .addColumn('edited_at', 'timestamptz')
    .addColumn('deleted_at', 'timestamptz')
    .addColumn('reply_to', 'integer', col => col.references('messages.id').onDelete('set null'))
    .addColumn('reply_count', 'integer', col => col.notNull().defaultTo(0))
    .execute()
  // A thread's replies in order.
  await db.schema.createIndex('messages_reply_to_seq_idx').on('messages').columns(['reply_to', 'seq'])
    .where(sql.ref('reply_to'), 'is not', null).execute()
  // Unread counts and the last message: the live messages of a room after a seq, read from the
  // index alone (user_id included), so their cost follows what is unread, not the room's history.
  await sql`create index messages_room_live_seq_idx on messages (room_id, seq) include (user_id) where deleted_at is null`.execute(db)

  await db.schema.createTable('room_events')
    .addColumn('room_id', 'integer', col => col.notNull().references('rooms.id').onDelete('cascade'))
    .addColumn('seq', 'integer', col => col.notNull())
    .addColumn('type', 'varchar(32)', col => col.notNull())
    .addColumn('message_id', 'integer', col => col.references('messages.id').onDelete('cascade'))
    .addColumn('data', 'jsonb', col => col.notNull())
    .addColumn('created_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('room_events_pkey', ['room_id', 'seq'])
    .execute()

  await db.schema.createTable('reactions')
    .addColumn('id', 'bigserial', col => col.primaryKey())
    .addColumn('message_id', 'integer', col => col.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', col => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('emoji', 'varchar(64)', col => col.notNull())
    .addColumn('created_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('reactions_message_id_emoji_user_id_key', ['message_id', 'emoji', 'user_id'])
    .execute()

  await db.schema.alterTable('room_members')
    .addColumn('role', 'varchar(16)', col => col.notNull().defaultTo('member'))
    .addColumn('last_read_seq', 'integer', col => col.notNull().defaultTo(0))
    .execute()
  // Rooms made before this migration: the creator owns them, and members have read everything.
  await sql`update room_members set role = 'owner' from rooms where rooms.id = room_members.room_id and rooms.created_by = room_members.user_id`.execute(db)
  await sql`update room_members set last_read_seq = rooms.last_seq from rooms where rooms.id = room_members.room_id`.execute(db)

  await db.schema.alterTable('rooms').addColumn('last_activity_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`)).execute()
  await sql`update rooms set last_activity_at = coalesce((select max(created_at) from messages where messages.room_id = rooms.id), rooms.created_at)`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('rooms').dropColumn('last_activity_at').execute()
  await db.schema.alterTable('room_members').dropColumn('last_read_seq').dropColumn('role').execute()
  await db.schema.dropTable('reactions').execute()
  await db.schema.dropTable('room_events').execute()
  await db.schema.dropIndex('messages_room_live_seq_idx').execute()
  await db.schema.dropIndex('messages_reply_to_seq_idx').execute()
  await db.schema.alterTable('messages').dropColumn('reply_count').dropColumn('reply_to').dropColumn('deleted_at').dropColumn('edited_at').execute()
}
