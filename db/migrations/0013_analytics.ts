import { type Kysely, sql } from 'kysely'

/**
 * Analytics (CONTRACT.md Part 2, "Analytics"): counts kept up so that no answer counts the messages table.
 * - `users.last_seen_at`: written at most once a minute per user (authenticated requests, socket opens).
 * - `user_daily_activity`: one row per user and UTC day they were seen; `daily_stats.active_users`
 *   grows in the same statement the first time a user is seen on a day.
 * - `daily_stats`, `user_daily_messages`, `room_daily_messages`: messages sent (and users created)
 *   per UTC day, added by the rollup job (src/chat/rollup.ts) from the rows past its watermark.
 * - `rollup_state`: one row, the watermark (the last message id and user id rolled up);
 *   `rollup_gaps`: ids below it that were not visible when it moved (a transaction still in flight,
 *   or one rolled back), looked at again by later runs until they are old.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('last_seen_at', 'timestamptz').execute()

  await db.schema.createTable('daily_stats')
    .addColumn('day', 'date', col => col.primaryKey())
    .addColumn('new_users', 'integer', col => col.notNull().defaultTo(0))
    .addColumn('messages', 'bigint', col => col.notNull().defaultTo(0))
    .addColumn('active_users', 'integer', col => col.notNull().defaultTo(0))
    .execute()

  await db.schema.createTable('user_daily_messages')
    .addColumn('user_id', 'integer', col => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('day', 'date', col => col.notNull())
    .addColumn('messages', 'integer', col => col.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('user_daily_messages_pkey', ['user_id', 'day'])
    .execute()

  await db.schema.createTable('room_daily_messages')
    .addColumn('room_id', 'integer', col => col.notNull().references('rooms.id').onDelete('cascade'))
    .addColumn('day', 'date', col => col.notNull())
    .addColumn('messages', 'integer', col => col.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('room_daily_messages_pkey', ['room_id', 'day'])
    .execute()
  // The busiest rooms of the last 7 days: the week's rows, not every room's history.
  await db.schema.createIndex('room_daily_messages_day_idx').on('room_daily_messages').columns(['day', 'room_id', 'messages']).execute()

  await db.schema.createTable('user_daily_activity')
    .addColumn('user_id', 'integer', col => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('day', 'date', col => col.notNull())
    .addPrimaryKeyConstraint('user_daily_activity_pkey', ['user_id', 'day'])
    .execute()

  await db.schema.createTable('rollup_state')
    .addColumn('id', 'integer', col => col.primaryKey().check(sql`id = 1`))
    .addColumn('last_message_id', 'bigint', col => col.notNull().defaultTo(0))
    .addColumn('last_user_id', 'bigint', col => col.notNull().defaultTo(0))
    // The last run that found new rows.
    .addColumn('rolled_up_at', 'timestamptz')
    .execute()
  await sql`insert into rollup_state (id) values (1)`.execute(db)

  await db.schema.createTable('rollup_gaps')
    .addColumn('source', 'varchar(16)', col => col.notNull())
    .addColumn('id', 'bigint', col => col.notNull())
    .addColumn('seen_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('rollup_gaps_pkey', ['source', 'id'])
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rollup_gaps').execute()
  await db.schema.dropTable('rollup_state').execute()
  await db.schema.dropTable('user_daily_activity').execute()
  await db.schema.dropTable('room_daily_messages').execute()
  await db.schema.dropTable('user_daily_messages').execute()
  await db.schema.dropTable('daily_stats').execute()
  await db.schema.alterTable('users').dropColumn('last_seen_at').execute()
}
