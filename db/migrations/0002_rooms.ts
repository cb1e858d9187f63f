import { type Kysely, sql } from 'kysely'

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('rooms')
    .addColumn('id', 'serial', col => col.primaryKey())
    .addColumn('name', 'varchar(255)', col => col.notNull())
    .addColumn('description', 'text')
    .addColumn('created_by', 'integer', col => col.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .execute()

  await db.schema.createTable('room_members')
    .addColumn('id', 'serial', col => col.primaryKey())
    .addColumn('room_id', 'integer', col => col.notNull().references('rooms.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', col => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('joined_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('room_members_room_id_user_id_key', ['room_id', 'user_id'])
    .execute()
  // "Which rooms is this user in" (socket subscription, membership checks by user).
  await db.schema.createIndex('room_members_user_id_idx').on('room_members').columns(['user_id', 'room_id']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('room_members').execute()
  await db.schema.dropTable('rooms').execute()
}
