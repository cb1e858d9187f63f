import type { Db } from './database.js'

export async function recordLoginFailure (db: Db, account: string, address: string): Promise<void> {
  await db.insertInto('login_failures').values({ account, address }).execute()
}

/** The newest failures of one account from one address since `since`, newest first. */
export async function pairFailuresSince (db: Db, account: string, address: string, since: Date, limit: number): Promise<Date[]> {
  const rows = await db.selectFrom('login_failures').select('created_at')
    .where('account', '=', account).where('address', '=', address).where('created_at', '>', since)
    .orderBy('created_at', 'desc').limit(limit)
    .execute()
  return rows.map(r => r.created_at)
}

/** How many failures the account took since `since` from all addresses, and the oldest of them. */
export async function accountFailuresSince (db: Db, account: string, since: Date): Promise<{ count: number, oldest: Date | null }> {
  const row = await db.selectFrom('login_failures')
    .select(eb => [eb.fn.countAll<string>().as('count'), eb.fn.min('created_at').as('oldest')])
    .where('account', '=', account).where('created_at', '>', since)
    .executeTakeFirstOrThrow()
  return { count: Number(row.count), oldest: row.oldest as Date | null }
}

export async function clearLoginFailures (db: Db, account: string, address: string): Promise<void> {
  await db.deleteFrom('login_failures').where('account', '=', account).where('address', '=', address).execute()
}

/** Forgets failures older than `before` (called now and then; the windows are at most an hour). */
export async function pruneLoginFailures (db: Db, before: Date): Promise<void> {
  await db.deleteFrom('login_failures').where('created_at', '<', before).execute()
}
