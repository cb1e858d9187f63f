import { createHash } from 'node:crypto'
import { accountFailuresSince, clearLoginFailures, pairFailuresSince, pruneLoginFailures, recordLoginFailure } from '../../db/login-failures.js'
import type { Db } from '../../db/users.js'
import { tooManyRequests } from '../errors.js'

/** After this many failures in PAIR_WINDOW for one account from one address, that pair is locked. */
export const PAIR_FAILURES = 10
export const PAIR_WINDOW_MS = 15 * 60_000
export const PAIR_LOCK_MS = 15 * 60_000
/** An account takes at most this many failures an hour from all addresses together. */
export const ACCOUNT_FAILURES = 100
export const ACCOUNT_WINDOW_MS = 60 * 60_000

const LOCKED = 'Too many failed logins; try again later'

/**
 * Throws 429 (with Retry-After) when this account+address pair is locked, or when the account
 * has taken its hourly cap of failures. The cap only refuses addresses that have themselves
 * failed on this account in the hour: the account's owner, logging in from elsewhere, is not
 * locked out by an attacker's failures.
 */
export async function assertNotLocked (db: Db, account: string, address: string, now = new Date()): Promise<void> {
  const recent = await pairFailuresSince(db, account, address, new Date(now.getTime() - ACCOUNT_WINDOW_MS), PAIR_FAILURES)
  const newest = recent[0]
  const tenth = recent[PAIR_FAILURES - 1]
  if (newest !== undefined && tenth !== undefined && newest.getTime() - tenth.getTime() <= PAIR_WINDOW_MS) {
    const lockedUntil = newest.getTime() + PAIR_LOCK_MS
    if (lockedUntil > now.getTime()) throw tooManyRequests(LOCKED, (lockedUntil - now.getTime()) / 1000, 'LOGIN_LOCKED')
  }
  if (recent.length === 0) return
  const perAccount = await accountFailuresSince(db, account, new Date(now.getTime() - ACCOUNT_WINDOW_MS))
  if (perAccount.count >= ACCOUNT_FAILURES && perAccount.oldest !== null) {
    const freeAt = perAccount.oldest.getTime() + ACCOUNT_WINDOW_MS
    throw tooManyRequests(LOCKED, (freeAt - now.getTime()) / 1000, 'LOGIN_LOCKED')
  }
}

let lastPrune = 0

export async function loginFailed (db: Db, account: string, address: string): Promise<void> {
  await recordLoginFailure(db, account, address)
  const now = Date.now()
  if (now - lastPrune > 10 * 60_000) {
    lastPrune = now
    await pruneLoginFailures(db, new Date(now - 2 * ACCOUNT_WINDOW_MS))
  }
}

export async function loginSucceeded (db: Db, account: string, address: string): Promise<void> {
  await clearLoginFailures(db, account, address)
}

/**
 * How the lockout names an account: the SHA-256 (hex) of the lower-cased email, so the key has a
 * fixed length however the email grows when lower-cased, and no typed address is stored.
 */
export function accountKey (email: string): string {
  return createHash('sha256').update(email.toLowerCase()).digest('hex')
}

/**
 * A password check under the lockout (`enabled` false: RATE_LIMIT_ENABLED=false): 429 while the
 * account+address pair or the account is locked; a failed check is counted, a passing one clears
 * the pair's failures. Returns the check's answer. Login and every change to an account go through it.
 */
export async function checkUnderLockout (
  db: Db, enabled: boolean, email: string, address: string, check: () => Promise<boolean>
): Promise<boolean> {
  const account = accountKey(email)
  if (enabled) await assertNotLocked(db, account, address)
  const ok = await check()
  if (enabled) await (ok ? loginSucceeded(db, account, address) : loginFailed(db, account, address))
  return ok
}
