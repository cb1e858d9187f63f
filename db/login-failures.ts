import { sql } from 'kysely'
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

/**
 * When the account took its `n`th newest failure since `since` (from all addresses together), or
 * undefined when it took fewer: while it is defined the account is at its cap of `n`, until then
 * plus the window.
 */
export async function nthNewestAccountFailure (db: Db, account: string, since: Date, n: number): Promise<Date | undefined> {
  const row = await db.selectFrom('login_failures').select('created_at')
    .where('account', '=', account).where('created_at', '>', since)
    .orderBy('created_at', 'desc').offset(n - 1).limit(1)
    .executeTakeFirst()
  return row?.created_at
}

/**
 * Runs `fn` in a transaction holding a lock on the account (a transaction-scoped advisory lock on
 * its key), so that checking the account's failures and counting one more is one step: concurrent
 * attempts on one account cannot all pass a check made before any of them was counted.
 */
export async function withAccountLock<T> (db: Db, account: string, fn: (trx: Db) => Promise<T>): Promise<T> {
  return await db.transaction().execute(async trx => {
    await sql`select pg_advisory_xact_lock(hashtextextended(${account}, 0))`.execute(trx)
    return await fn(trx)
  })
}

export async function clearLoginFailures (db: Db, account: string, address: string): Promise<void> {
  await db.deleteFrom('login_failures').where('account', '=', account).where('address', '=', address).execute()
}

/** Forgets failures older than `before` (called now and then; the windows are at most an hour). */
export async function pruneLoginFailures (db: Db, before: Date): Promise<void> {
  await db.deleteFrom('login_failures').where('created_at', '<', before).execute()
}
