import {
  bumpTokenVersion, findUserByEmail, findUserById, findUserWithHash, insertUser, isEmailTaken, isUsernameTaken, listUsers as listUserRows,
  setDisabled, updateUser, usernameKeyHeld, type UserRecord
} from '../../db/users.js'
import type { Db } from '../../db/database.js'
import { type AppError, conflict, forbidden, notFound, unauthorized } from '../errors.js'
import { checkPasswordPolicy } from './password-policy.js'
import type { LoginInput, RegisterInput, UpdateMeInput, UserView } from '../schemas/users.js'
import type { ChatBus } from './events.js'
import { checkUnderLockout } from './lockout.js'
import { checkUsername } from './text.js'

/** bcrypt, as the passwords plugin provides it (off the main thread). */
export interface PasswordHasher {
  hash: (password: string) => Promise<string>
  verify: (password: string, hash: string) => Promise<boolean>
  /** Spends one comparison on nothing: an unknown email costs as much as a wrong password. */
  verifyDecoy: (password: string) => Promise<false>
}

export interface Viewer { id: number, role: string }

interface Deps { db: Db, passwords: PasswordHasher }

/** A user as another user may see them: the email only for themself and admins. */
export function viewUser (user: UserRecord, viewer: Viewer | undefined): UserView {
  const view: UserView = { id: user.id, username: user.username, created_at: user.created_at }
  if (viewer !== undefined && (viewer.id === user.id || viewer.role === 'admin')) view.email = user.email
  if (viewer?.role === 'admin') view.disabled_at = user.disabled_at
  return view
}

const USERNAME_TAKEN = (): AppError => conflict('Username already taken', 'USERNAME_TAKEN')

export async function register ({ db, passwords }: Deps, input: RegisterInput): Promise<UserView> {
  const { username, key } = checkUsername(input.username)
  await checkPasswordPolicy(input.password)
  if (await findUserByEmail(db, input.email) !== undefined) throw conflict('Email already registered', 'EMAIL_TAKEN')
  if (await usernameKeyHeld(db, key)) throw USERNAME_TAKEN()
  const passwordHash = await passwords.hash(input.password)
  // The unique indexes on lower(email) and username_key settle a race between two registrations.
  let user: UserRecord | undefined
  try {
    user = await insertUser(db, { email: input.email, username, username_key: key, password_hash: passwordHash })
  } catch (err) {
    if (isUsernameTaken(err)) throw USERNAME_TAKEN()
    throw err
  }
  if (user === undefined) throw conflict('Email already registered', 'EMAIL_TAKEN')
  return viewUser(user, user)
}

const BAD_LOGIN = 'Invalid email or password'

export async function login (
  { db, passwords, lockout }: Deps & { lockout: boolean },
  input: LoginInput,
  address: string
): Promise<{ id: number, email: string, username: string, role: string, token_version: number }> {
  const user = await findUserByEmail(db, input.email)
  // An unknown email costs a bcrypt comparison too, and counts as a failure for that address.
  const ok = await checkUnderLockout(db, lockout, { email: input.email, userId: user?.id, ip: address }, async () => user === undefined
    ? await passwords.verifyDecoy(input.password)
    : await passwords.verify(input.password, user.password_hash))
  if (!ok || user === undefined) throw unauthorized(BAD_LOGIN, 'INVALID_CREDENTIALS')
  // Only someone who knows the password learns that the account is disabled.
  if (user.disabled_at !== null) throw forbidden('This account is disabled', 'ACCOUNT_DISABLED')
  return { id: user.id, email: user.email, username: user.username, role: user.role, token_version: user.token_version }
}

export async function getUser ({ db }: { db: Db }, id: number, viewer: Viewer): Promise<UserView> {
  const user = await findUserById(db, id)
  if (user === undefined) throw notFound('User not found', 'USER_NOT_FOUND')
  return viewUser(user, viewer)
}

export async function listUsers ({ db }: { db: Db }, page: { q?: string | undefined, limit: number, offset: number }, viewer: Viewer): Promise<UserView[]> {
  const users = await listUserRows(db, page)
  return users.map(user => viewUser(user, viewer))
}

/** Tells every instance to close the user's sockets opened with a token older than `tokenVersion`. */
function revoked (bus: ChatBus, user: { id: number, token_version: number }): void {
  bus.publish({ type: 'user:revoked', user_id: user.id, token_version: user.token_version })
}

/**
 * Logs the user out everywhere: a JWT cannot be taken back, so the user's token version moves on
 * and every token issued before (on any device) is refused from now on; open sockets close (4401).
 */
export async function logout ({ db, bus }: { db: Db, bus: ChatBus }, userId: number): Promise<void> {
  const tokenVersion = await bumpTokenVersion(db, userId)
  if (tokenVersion === undefined) throw unauthorized('Missing or invalid authentication token')
  revoked(bus, { id: userId, token_version: tokenVersion })
}

/**
 * Changes the caller's username, email or password; every change needs the current password (a
 * wrong one counts as a failed login for the lockout). A new email or password revokes every
 * token issued before. Returns the user as stored, to sign a fresh token with.
 */
export async function updateMe (
  { db, passwords, bus, lockout }: Deps & { bus: ChatBus, lockout: boolean },
  userId: number,
  input: UpdateMeInput,
  address: string
): Promise<UserRecord> {
  const name = input.username === undefined ? undefined : checkUsername(input.username)
  if (input.password !== undefined) await checkPasswordPolicy(input.password)
  const user = await findUserWithHash(db, userId)
  if (user === undefined) throw unauthorized('Missing or invalid authentication token')
  const ok = await checkUnderLockout(db, lockout, { email: user.email, userId: user.id, ip: address }, async () => await passwords.verify(input.current_password, user.password_hash))
  if (!ok) throw unauthorized('Current password is incorrect', 'INVALID_CREDENTIALS')

  const email = input.email !== undefined && input.email !== user.email ? input.email : undefined
  // Asked only of someone who knows the password: a stolen token alone cannot probe for addresses.
  if (email !== undefined) {
    const holder = await findUserByEmail(db, email)
    if (holder !== undefined && holder.id !== user.id) throw conflict('Email already registered', 'EMAIL_TAKEN')
  }
  // Your own name in another case or width is still yours.
  if (name !== undefined && await usernameKeyHeld(db, name.key, user.id)) throw USERNAME_TAKEN()
  const passwordHash = input.password === undefined ? undefined : await passwords.hash(input.password)
  const revoke = email !== undefined || passwordHash !== undefined
  let updated: UserRecord | undefined
  try {
    updated = await updateUser(db, user.id, {
      ...(name === undefined ? {} : { username: name.username, username_key: name.key }),
      ...(email === undefined ? {} : { email }),
      ...(passwordHash === undefined ? {} : { password_hash: passwordHash })
    }, revoke)
  } catch (err) {
    if (isEmailTaken(err)) throw conflict('Email already registered', 'EMAIL_TAKEN')
    if (isUsernameTaken(err)) throw USERNAME_TAKEN()
    throw err
  }
  if (updated === undefined) throw unauthorized('Missing or invalid authentication token')
  if (revoke) revoked(bus, updated)
  return updated
}

/**
 * Admins only: disables an account (it cannot log in; every token of it is refused and its sockets
 * close) or enables it again. An admin cannot disable themself (409): no admin locks themself out.
 */
export async function setAccountDisabled (
  { db, bus }: { db: Db, bus: ChatBus }, id: number, disabled: boolean, viewer: Viewer
): Promise<UserView> {
  if (viewer.role !== 'admin') throw forbidden('Only an admin may disable or enable accounts', 'ADMIN_ONLY')
  if (disabled && id === viewer.id) throw conflict('An admin cannot disable their own account', 'CANNOT_DISABLE_SELF')
  const user = await setDisabled(db, id, disabled)
  if (user === undefined) throw notFound('User not found', 'USER_NOT_FOUND')
  // Disabling revokes every token; enabling revokes nothing new, but instances forget the disabled state.
  revoked(bus, user)
  return viewUser(user, viewer)
}
