import { type Kysely, sql } from 'kysely'

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('messages')
    .addColumn('id', 'serial', col => col.primaryKey())
    .addColumn('room_id', 'integer', col => col.notNull().references('rooms.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', col => col.references('users.id').onDelete('set null'))
    .addColumn('content', 'text', col => col.notNull())
    .addColumn('created_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .execute()
  // History pages (newest first, and before/after cursors) are index scans on this.
  await db.schema.createIndex('messages_room_id_id_idx').on('messages').columns(['room_id', 'id']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('messages').execute()
}
