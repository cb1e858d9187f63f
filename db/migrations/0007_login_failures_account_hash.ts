import { type Kysely, sql } from 'kysely'

/**
 * The lockout names an account by the SHA-256 (hex) of the lower-cased email it was tried with,
 * not by the email itself: a fixed 64 characters, whatever the email grows to when lower-cased
 * ('İ' is two code units lower-cased, so 255 of them overflowed `varchar(255)`), and the table no
 * longer keeps every address anyone typed. Rows kept so far (at most two hours of failures) are
 * hashed the same way, so no lock is lost. Down cannot undo a hash: it forgets the failures.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await sql`update login_failures set account = encode(sha256(convert_to(account, 'UTF8')), 'hex')`.execute(db)
  await db.schema.alterTable('login_failures').alterColumn('account', col => col.setDataType('varchar(64)')).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.deleteFrom('login_failures').execute()
  await db.schema.alterTable('login_failures').alterColumn('account', col => col.setDataType('varchar(255)')).execute()
}
