import { type Kysely, sql } from 'kysely'

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('users')
    .addColumn('id', 'serial', col => col.primaryKey())
    .addColumn('email', 'varchar(255)', col => col.notNull())
    .addColumn('username', 'varchar(100)', col => col.notNull())
    .addColumn('password_hash', 'varchar(255)', col => col.notNull())
    .addColumn('role', 'varchar(50)', col => col.notNull().defaultTo('user'))
    .addColumn('created_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .execute()
  // Emails are unique case-insensitively, stored as given.
  await sql`CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('users').execute()
}
