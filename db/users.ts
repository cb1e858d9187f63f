import { sql } from 'kysely'
import type { Db, NewUser, UserRow } from './database.js'
import { likeLiteral } from './rooms.js'

const publicColumns = ['id', 'email', 'username', 'role', 'created_at', 'token_version', 'disabled_at'] as const
export type UserRecord = Pick<UserRow, typeof publicColumns[number]>

/**
 * Inserts a user; returns undefined when the email (case-insensitively) is taken. Throws the unique
 * violation (see `isUsernameTaken`) when the username key is someone else's.
 */
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

/** Users by id; `q` keeps those whose username contains it (case-insensitive, taken literally). */
export async function listUsers (db: Db, page: { q?: string | undefined, limit: number, offset: number }): Promise<UserRecord[]> {
  return await listUsersQuery(db, page).execute()
}

/** The statement `listUsers` runs: the `ilike` is served by the trigram index users_username_trgm_idx (test/routes/search.test.ts reads its plan). */
export function listUsersQuery (db: Db, page: { q?: string | undefined, limit: number, offset: number }) {
  let query = db.selectFrom('users').select(publicColumns)
  if (page.q !== undefined) query = query.where('username', 'ilike', `%${likeLiteral(page.q)}%`)
  return query.orderBy('id').limit(page.limit).offset(page.offset)
}

/** What `authenticate` checks on every request: one primary-key lookup. */
export async function findAuthState (db: Db, id: number): Promise<Pick<UserRow, 'username' | 'role' | 'token_version' | 'disabled_at'> | undefined> {
  return await db.selectFrom('users').select(['username', 'role', 'token_version', 'disabled_at']).where('id', '=', id).executeTakeFirst()
}

export async function findUserWithHash (db: Db, id: number): Promise<UserRow | undefined> {
  return await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
}

/**
 * Changes a user's own fields; `revoke` also bumps the token version (every token issued before
 * stops working). Undefined when there is no such user. Throws the unique violation (see
 * `isEmailTaken`, `isUsernameTaken`) when the new email or username key belongs to someone else.
 */
export async function updateUser (
  db: Db, id: number, changes: { username?: string, username_key?: string, email?: string, password_hash?: string }, revoke: boolean
): Promise<UserRecord | undefined> {
  return await db.updateTable('users')
    .set(eb => ({ ...changes, updated_at: sql<Date>`now()`, ...(revoke ? { token_version: eb('token_version', '+', 1) } : {}) }))
    .where('id', '=', id)
    .returning(publicColumns)
    .executeTakeFirst()
}

/** True when `err` is the unique violation of lower(email): the address is someone else's. */
export function isEmailTaken (err: unknown): boolean {
  const { code, constraint } = err as { code?: unknown, constraint?: unknown }
  return code === '23505' && constraint === 'users_email_lower_key'
}

/** True when `err` is the unique violation of username_key: someone else has that name. */
export function isUsernameTaken (err: unknown): boolean {
  const { code, constraint } = err as { code?: unknown, constraint?: unknown }
  return code === '23505' && constraint === 'users_username_key_key'
}

/** Whether a user other than `exceptId` has this username key. */
export async function usernameKeyHeld (db: Db, key: string, exceptId?: number): Promise<boolean> {
  let query = db.selectFrom('users').select('id').where('username_key', '=', key)
  if (exceptId !== undefined) query = query.where('id', '!=', exceptId)
  return await query.executeTakeFirst() !== undefined
}

/** Bumps the token version: every token issued before stops working. Returns the new version (undefined: no such user). */
export async function bumpTokenVersion (db: Db, id: number): Promise<number | undefined> {
  const row = await db.updateTable('users')
    .set(eb => ({ token_version: eb('token_version', '+', 1), updated_at: sql<Date>`now()` }))
    .where('id', '=', id)
    .returning('token_version')
    .executeTakeFirst()
  return row?.token_version
}

/** Disables (and revokes every token of) or re-enables an account. Undefined when there is no such user. */
export async function setDisabled (db: Db, id: number, disabled: boolean): Promise<UserRecord | undefined> {
  return await db.updateTable('users')
    .set(eb => disabled
      ? { disabled_at: eb.fn.coalesce('disabled_at', sql<Date>`now()`), token_version: eb('token_version', '+', 1), updated_at: sql<Date>`now()` }
      : { disabled_at: null, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returning(publicColumns)
    .executeTakeFirst()
}

/** Sets the role of the user with this email (any case). Undefined when there is no such user. */
export async function setRoleByEmail (db: Db, email: string, role: string): Promise<UserRecord | undefined> {
  return await db.updateTable('users')
    .set({ role, updated_at: sql<Date>`now()` })
    .where(sql`lower(email)`, '=', email.toLowerCase())
    .returning(publicColumns)
    .executeTakeFirst()
}
