import { type Kysely, sql } from 'kysely'

/**
 * Rooms: privacy, direct messages, moderation, invites (CONTRACT.md Part 2, "Rooms").
 * - `rooms.is_private`: invisible to non-members who are not invited.
 * - `rooms.is_direct` and `rooms.direct_key` (`<smaller user id>:<larger>`, unique): one DM per
 *   pair, kept by the database even when both sides open it at once.
 * - `room_members.muted_until`: muted while it is in the future (an indefinite mute is
 *   9999-12-31T23:59:59Z); the send statement checks it.
 * - `rooms.member_count`: kept up by every statement that adds or removes a member, so a Room's
 *   count costs nothing to read.
 * - `room_bans`, `room_invites`: one row per (room, user).
 * - `parked_mutes`: the mute of a member who left while muted, given back when they rejoin.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('rooms')
    .addColumn('is_private', 'boolean', col => col.notNull().defaultTo(false))
    .addColumn('is_direct', 'boolean', col => col.notNull().defaultTo(false))
    .addColumn('direct_key', 'varchar(32)', col => col.unique())
    .addColumn('member_count', 'integer', col => col.notNull().defaultTo(0))
    .execute()
  await sql`update rooms set member_count = (select count(*) from room_members where room_members.room_id = rooms.id)`.execute(db)
  await db.schema.alterTable('room_members').addColumn('muted_until', 'timestamptz').execute()

  await db.schema.createTable('room_bans')
    .addColumn('room_id', 'integer', col => col.notNull().references('rooms.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', col => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('banned_by', 'integer', col => col.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('room_bans_pkey', ['room_id', 'user_id'])
    .execute()

  await db.schema.createTable('room_invites')
    .addColumn('room_id', 'integer', col => col.notNull().references('rooms.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', col => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('invited_by', 'integer', col => col.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('room_invites_pkey', ['room_id', 'user_id'])
    .execute()
  // The mute of a member who left (or was kicked) while muted, given back if they join again before it
  // ends: leaving is not a way out of a mute.
  await db.schema.createTable('parked_mutes')
    .addColumn('room_id', 'integer', col => col.notNull().references('rooms.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', col => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('muted_until', 'timestamptz', col => col.notNull())
    .addPrimaryKeyConstraint('parked_mutes_pkey', ['room_id', 'user_id'])
    .execute()
  // "My invites".
  await db.schema.createIndex('room_invites_user_id_idx').on('room_invites').columns(['user_id', 'created_at']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('parked_mutes').execute()
  await db.schema.dropTable('room_invites').execute()
  await db.schema.dropTable('room_bans').execute()
  await db.schema.alterTable('room_members').dropColumn('muted_until').execute()
  await db.schema.alterTable('rooms').dropColumn('member_count').dropColumn('direct_key').dropColumn('is_direct').dropColumn('is_private').execute()
}
