import { type Kysely, sql } from 'kysely'

export async function up (db: Kysely<any>): Promise<void> {
  // Failed logins, kept in the database so every instance sees the same lockout.
  await db.schema.createTable('login_failures')
    .addColumn('id', 'serial', col => col.primaryKey())
    .addColumn('account', 'varchar(255)', col => col.notNull())
    .addColumn('address', 'varchar(64)', col => col.notNull())
    .addColumn('created_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('login_failures_account_created_at_idx').on('login_failures').columns(['account', 'created_at']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('login_failures').execute()
}
