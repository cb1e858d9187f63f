import { sql } from 'kysely'
import type { Db } from './database.js'

/** Remembers (or refreshes) that a password check for this user passed from this address. */
export async function rememberAddress (db: Db, userId: number, address: string): Promise<void> {
  await db.insertInto('known_addresses').values({ user_id: userId, address })
    .onConflict(oc => oc.columns(['user_id', 'address']).doUpdateSet({ last_login_at: sql<Date>`now()` }))
    .execute()
}

/** Whether a password check for this user passed from this address since `since`. */
export async function isKnownAddress (db: Db, userId: number, address: string, since: Date): Promise<boolean> {
  const row = await db.selectFrom('known_addresses').select('user_id')
    .where('user_id', '=', userId).where('address', '=', address).where('last_login_at', '>', since)
    .executeTakeFirst()
  return row !== undefined
}

/** Forgets addresses whose last success is older than `before`. */
export async function pruneKnownAddresses (db: Db, before: Date): Promise<void> {
  await db.deleteFrom('known_addresses').where('last_login_at', '<', before).execute()
}
