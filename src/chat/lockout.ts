import { createHash } from 'node:crypto'
import { isKnownAddress, pruneKnownAddresses, rememberAddress } from '../../db/known-addresses.js'
import { clearLoginFailures, nthNewestAccountFailure, pairFailuresSince, pruneLoginFailures, recordLoginFailure, withAccountLock } from '../../db/login-failures.js'
import type { Db } from '../../db/database.js'
import { tooManyRequests } from '../errors.js'
import { addressKey } from './addresses.js'

/** After this many failures in PAIR_WINDOW for one account from one address, that pair is locked. */
export const PAIR_FAILURES = 10
export const PAIR_WINDOW_MS = 15 * 60_000
export const PAIR_LOCK_MS = 15 * 60_000
/** An account takes at most this many failures an hour from all addresses together. */
export const ACCOUNT_FAILURES = 100
export const ACCOUNT_WINDOW_MS = 60 * 60_000
/** How long a successful password check proves an address for its account. */
export const KNOWN_ADDRESS_MS = 30 * 24 * 60 * 60_000

const LOCKED = 'Too many failed logins; try again later'

/**
 * How the lockout names an account: the SHA-256 (hex) of the lower-cased email, so the key has a
 * fixed length however the email grows when lower-cased, and no typed address is stored.
 */
export function accountKey (email: string): string {
  return createHash('sha256').update(email.toLowerCase()).digest('hex')
}

/** Who is trying which account from where. `userId`: the account's user, when the email names one. */
export interface Attempt { account: string, address: string, userId: number | undefined }

/**
 * Throws 429 LOGIN_LOCKED (with Retry-After) when this account+address pair is locked, or when the
 * account has taken its cap of failures in the last hour and the address has not proved itself on
 * it (no password check for this user passed from there in the last 30 days): then every other
 * address waits until the oldest of those failures ages out, so the cap is a cap, however many
 * addresses an attacker has, while the owner still gets in from where they logged in before.
 */
export async function assertNotLocked (db: Db, { account, address, userId }: Attempt, now = new Date()): Promise<void> {
  const recent = await pairFailuresSince(db, account, address, new Date(now.getTime() - ACCOUNT_WINDOW_MS), PAIR_FAILURES)
  const newest = recent[0]
  const tenth = recent[PAIR_FAILURES - 1]
  if (newest !== undefined && tenth !== undefined && newest.getTime() - tenth.getTime() <= PAIR_WINDOW_MS) {
    const lockedUntil = newest.getTime() + PAIR_LOCK_MS
    if (lockedUntil > now.getTime()) throw tooManyRequests(LOCKED, (lockedUntil - now.getTime()) / 1000, 'LOGIN_LOCKED')
  }
  const capReached = await nthNewestAccountFailure(db, account, new Date(now.getTime() - ACCOUNT_WINDOW_MS), ACCOUNT_FAILURES)
  if (capReached === undefined) return
  if (userId !== undefined && await isKnownAddress(db, userId, address, new Date(now.getTime() - KNOWN_ADDRESS_MS))) return
  throw tooManyRequests(LOCKED, (capReached.getTime() + ACCOUNT_WINDOW_MS - now.getTime()) / 1000, 'LOGIN_LOCKED')
}

/**
 * After a failed check, forgets failures older than the windows and addresses older than 30 days.
 * Failures are rate limited and the table keeps two hours of them, so the sweep stays small.
 */
async function prune (db: Db): Promise<void> {
  const now = Date.now()
  await pruneLoginFailures(db, new Date(now - 2 * ACCOUNT_WINDOW_MS))
  await pruneKnownAddresses(db, new Date(now - KNOWN_ADDRESS_MS))
}

/**
 * Checks the lockout and counts the attempt as a failure in one step under the account's lock, before
 * the password is checked: concurrent attempts cannot overshoot the caps. A check that then passes
 * takes the failure back (with the rest of the pair's).
 */
async function admit (db: Db, attempt: Attempt): Promise<void> {
  await withAccountLock(db, attempt.account, async trx => {
    await assertNotLocked(trx, attempt)
    await recordLoginFailure(trx, attempt.account, attempt.address)
  })
}

/** A passing check clears the pair's failures and proves the address for the user. */
async function succeeded (db: Db, { account, address, userId }: Attempt): Promise<void> {
  await clearLoginFailures(db, account, address)
  if (userId !== undefined) await rememberAddress(db, userId, address)
}

/**
 * A password check under the lockout (`enabled` false: RATE_LIMIT_ENABLED=false): 429 while the
 * account+address pair or the account is locked for this address; otherwise the check runs and
 * counts as a failure unless it passes, and a passing one clears the pair's failures and proves the
 * address. `email` is the one the attempt named (the account's key, whether or not a user has it),
 * `user` that user if there is one, `ip` the client's address. Returns the check's answer. Login
 * and every change to an account go through it.
 */
export async function checkUnderLockout (
  db: Db, enabled: boolean, who: { email: string, userId: number | undefined, ip: string }, check: () => Promise<boolean>
): Promise<boolean> {
  const attempt: Attempt = { account: accountKey(who.email), address: addressKey(who.ip), userId: who.userId }
  if (enabled) await admit(db, attempt)
  const ok = await check()
  if (enabled) await (ok ? succeeded(db, attempt) : prune(db))
  return ok
}
