import type { FastifyBaseLogger } from 'fastify'
import type { Db } from '../../db/database.js'
import { markSeen } from '../../db/stats.js'

/** `last_seen_at` moves at most this often per user (CONTRACT.md, "Analytics"). */
export const SEEN_INTERVAL_MS = 60_000
/** Past this many users remembered, the ones not seen for a minute are forgotten. */
const PRUNE_AT = 10_000

/**
 * Users' activity, per instance: the first authenticated request or socket open of a user in a
 * minute writes `last_seen_at` (and the day's activity row), fire-and-forget, errors logged; the
 * rest of that minute costs a Map lookup. With several instances each may write once a minute, and
 * the statement itself leaves a `last_seen_at` younger than a minute alone.
 */
export class SeenTracker {
  private readonly last = new Map<number, number>()

  constructor (private readonly db: Db, private readonly log: FastifyBaseLogger, private readonly now = Date.now) {}

  /** Returns whether this call wrote (false: the user was seen on this instance less than a minute ago). */
  seen (userId: number): boolean {
    const now = this.now()
    const before = this.last.get(userId)
    if (before !== undefined && now - before < SEEN_INTERVAL_MS) return false
    this.last.set(userId, now)
    if (this.last.size > PRUNE_AT) this.prune(now)
    markSeen(this.db, userId).catch((err: unknown) => { this.log.warn({ err, userId }, 'could not record that a user was seen') })
    return true
  }

  private prune (now: number): void {
    for (const [userId, at] of this.last) if (now - at >= SEEN_INTERVAL_MS) this.last.delete(userId)
  }
}
