import { type Kysely, sql } from 'kysely'

/**
 * Attachments (CONTRACT.md Part 2, "Attachments"): one row per upload, its bytes in storage under
 * `storage_key` (random, never from user input), attached to at most one message.
 * - `message_id`, `room_id`: null until a send attaches the upload; set together, by that send.
 *   Both foreign keys `on delete set null`: a row must outlive its message and room long enough
 *   for the app to delete its file first (`deleted_at` marks such a row; it is never served).
 * - `deleted_at`: the file is to be deleted (its message or room went, or the upload expired);
 *   the app deletes the file, then the row; a failed storage delete leaves the row for the sweep.
 * - `thumbnail_key`: the stored thumbnail, made once on first request.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('attachments')
    .addColumn('id', 'serial', col => col.primaryKey())
    .addColumn('user_id', 'integer', col => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('message_id', 'integer', col => col.references('messages.id').onDelete('set null'))
    .addColumn('room_id', 'integer', col => col.references('rooms.id').onDelete('set null'))
    .addColumn('storage_key', 'varchar(64)', col => col.notNull().unique())
    .addColumn('filename', 'varchar(255)', col => col.notNull())
    .addColumn('content_type', 'varchar(255)', col => col.notNull())
    .addColumn('size', 'bigint', col => col.notNull())
    .addColumn('sha256', 'char(64)', col => col.notNull())
    .addColumn('width', 'integer')
    .addColumn('height', 'integer')
    .addColumn('thumbnail_key', 'varchar(64)')
    .addColumn('created_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', 'timestamptz')
    .execute()
  // A page of messages' attachments (one grouped query), and a message's files on delete.
  await db.schema.createIndex('attachments_message_id_idx').on('attachments').column('message_id').execute()
  // Uploads not attached yet, per user (the sweep of expired ones reads them by age).
  await db.schema.createIndex('attachments_unattached_idx').on('attachments').columns(['user_id', 'created_at'])
    .where(sql.ref('message_id'), 'is', null).execute()
  await db.schema.createIndex('attachments_unattached_age_idx').on('attachments').column('created_at')
    .where(sql.ref('message_id'), 'is', null).execute()
  // The files waiting to be deleted (the sweep's retries).
  await db.schema.createIndex('attachments_deleted_idx').on('attachments').column('deleted_at')
    .where(sql.ref('deleted_at'), 'is not', null).execute()
  // A room's files when it is deleted.
  await db.schema.createIndex('attachments_room_id_idx').on('attachments').column('room_id').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('attachments').execute()
}
