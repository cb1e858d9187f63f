import { findUserByEmail, findUserById, insertUser, listUsers as listUserRows, type Db, type UserRecord } from '../../db/users.js'
import { conflict, notFound, unauthorized } from '../errors.js'
import { checkPasswordPolicy, type PasswordHasher } from '../passwords/index.js'
import type { LoginInput, RegisterInput, UserView } from '../schemas/users.js'
import { assertNotLocked, loginFailed, loginSucceeded } from './lockout.js'
import { trimmed } from './text.js'

export interface Viewer { id: number, role: string }

interface Deps { db: Db, passwords: PasswordHasher }

/** A user as another user may see them: the email only for themself and admins. */
export function viewUser (user: UserRecord, viewer: Viewer | undefined): UserView {
  const view: UserView = { id: user.id, username: user.username, created_at: user.created_at }
  if (viewer !== undefined && (viewer.id === user.id || viewer.role === 'admin')) view.email = user.email
  return view
}

export async function register ({ db, passwords }: Deps, input: RegisterInput): Promise<UserView> {
  const username = trimmed(input.username, 'username', 100)
  checkPasswordPolicy(input.password)
  if (await findUserByEmail(db, input.email) !== undefined) throw conflict('Email already registered', 'EMAIL_TAKEN')
  const passwordHash = await passwords.hash(input.password)
  // The unique index on lower(email) settles a race between two registrations of one address.
  const user = await insertUser(db, { email: input.email, username, password_hash: passwordHash })
  if (user === undefined) throw conflict('Email already registered', 'EMAIL_TAKEN')
  return viewUser(user, user)
}

const BAD_LOGIN = 'Invalid email or password'

export async function login (
  { db, passwords, lockout }: Deps & { lockout: boolean },
  input: LoginInput,
  address: string
): Promise<{ id: number, email: string, username: string, role: string }> {
  const account = input.email.toLowerCase()
  if (lockout) await assertNotLocked(db, account, address)
  const user = await findUserByEmail(db, input.email)
  const ok = user === undefined
    ? await passwords.verifyDecoy(input.password)
    : await passwords.verify(input.password, user.password_hash)
  if (!ok || user === undefined) {
    if (lockout) await loginFailed(db, account, address)
    throw unauthorized(BAD_LOGIN, 'INVALID_CREDENTIALS')
  }
  if (lockout) await loginSucceeded(db, account, address)
  return { id: user.id, email: user.email, username: user.username, role: user.role }
}

export async function getUser ({ db }: { db: Db }, id: number, viewer: Viewer): Promise<UserView> {
  const user = await findUserById(db, id)
  if (user === undefined) throw notFound('User not found', 'USER_NOT_FOUND')
  return viewUser(user, viewer)
}

export async function listUsers ({ db }: { db: Db }, page: { limit: number, offset: number }, viewer: Viewer): Promise<UserView[]> {
  const users = await listUserRows(db, page)
  return users.map(user => viewUser(user, viewer))
}
