import { type Kysely, sql } from 'kysely'
import type { Database, NewUser, UserRow } from './database.js'

export type Db = Kysely<Database>
const publicColumns = ['id', 'email', 'username', 'role', 'created_at'] as const
export type UserRecord = Pick<UserRow, typeof publicColumns[number]>

/** Inserts a user; returns undefined when the email (case-insensitively) is taken. */
export async function insertUser (db: Db, user: NewUser): Promise<UserRecord | undefined> {
  return await db.insertInto('users').values(user)
    .onConflict(oc => oc.expression(sql`lower(email)`).doNothing())
    .returning(publicColumns)
    .executeTakeFirst()
}

export async function findUserByEmail (db: Db, email: string): Promise<UserRow | undefined> {
  return await db.selectFrom('users').selectAll()
    .where(sql`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst()
}

export async function findUserById (db: Db, id: number): Promise<UserRecord | undefined> {
  return await db.selectFrom('users').select(publicColumns).where('id', '=', id).executeTakeFirst()
}

export async function listUsers (db: Db, page: { limit: number, offset: number }): Promise<UserRecord[]> {
  return await db.selectFrom('users').select(publicColumns)
    .orderBy('id').limit(page.limit).offset(page.offset)
    .execute()
}
