import type { Kysely } from 'kysely'

/**
 * Token revocation and disabled accounts.
 * - `users.token_version`: every token carries the version it was issued under (claim `ver`);
 *   bumping it (logout, a new password or email, disabling) makes every older token invalid.
 * - `users.disabled_at`: set by an admin; a disabled account's tokens are refused and it cannot log in.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('token_version', 'integer', col => col.notNull().defaultTo(0)).execute()
  await db.schema.alterTable('users').addColumn('disabled_at', 'timestamptz').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('disabled_at').execute()
  await db.schema.alterTable('users').dropColumn('token_version').execute()
}
