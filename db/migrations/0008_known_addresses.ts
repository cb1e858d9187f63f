import { type Kysely, sql } from 'kysely'

/**
 * Addresses that have proved themselves for an account: a password check passed from there (a
 * login, or a change to the account). Once an account has taken its hourly cap of failed logins,
 * only these (for 30 days after their last success) may still try its password. `address` is the
 * lockout's address key (an IPv4 address, or an IPv6 /64).
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('known_addresses')
    .addColumn('user_id', 'integer', col => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('address', 'varchar(64)', col => col.notNull())
    .addColumn('last_login_at', 'timestamptz', col => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('known_addresses_pkey', ['user_id', 'address'])
    .execute()
  // Forgetting addresses older than 30 days.
  await db.schema.createIndex('known_addresses_last_login_at_idx').on('known_addresses').column('last_login_at').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('known_addresses').execute()
}
