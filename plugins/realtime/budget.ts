import { tooManyRequests } from '../../src/errors.js'

/**
 * A per-user budget of WebSocket work (every frame costs at least one unit; a `sync` more, by the
 * rooms and rows it replays), as a token bucket: `capacity` units, refilled at `perSecond`. The
 * user's sockets on this instance share it, so opening more sockets buys no more work; and a user
 * who spent it cannot open a socket either until a unit is back (see `check`).
 */
export class FrameBudget {
  private readonly buckets = new Map<number, { units: number, at: number }>()

  constructor (private readonly capacity: number, private readonly perSecond: number) {}

  /**
   * Takes `cost` units from the user's bucket. Returns 0 when taken, else the seconds until
   * they would be there (nothing taken). `debt`: take them anyway (work already done, such as the
   * rows a catch-up sent), leaving the bucket below zero.
   */
  take (userId: number, cost: number, debt = false, now = Date.now()): number {
    const bucket = this.refilled(userId, now)
    if (bucket.units >= cost || debt) {
      bucket.units -= cost
      return 0
    }
    return (cost - bucket.units) / this.perSecond
  }

  /** `take`, refusing with 429 (nothing taken) when the units are not there. */
  spend (userId: number, cost: number, debt = false): void {
    refuseAfter(this.take(userId, cost, debt))
  }

  /**
   * Refuses with 429 unless the user has at least one unit left; takes nothing. For an upgrade: a
   * user whose sockets were refused past the budget (and closed, 1008) is refused again before the
   * server does any work for a new socket, however fast they reconnect.
   */
  check (userId: number, now = Date.now()): void {
    const { units } = this.refilled(userId, now)
    refuseAfter(units >= 1 ? 0 : (1 - units) / this.perSecond)
  }

  /** Gives back units taken for work that turned out smaller (a reservation). */
  refund (userId: number, units: number): void {
    const bucket = this.buckets.get(userId)
    if (bucket !== undefined) bucket.units = Math.min(this.capacity, bucket.units + units)
  }

  private refilled (userId: number, now: number): { units: number, at: number } {
    const bucket = this.buckets.get(userId) ?? { units: this.capacity, at: now }
    bucket.units = Math.min(this.capacity, bucket.units + (now - bucket.at) / 1000 * this.perSecond)
    bucket.at = now
    this.buckets.set(userId, bucket)
    return bucket
  }

  /** Forgets full buckets (called on the heartbeat): memory follows the users active lately. */
  prune (now = Date.now()): void {
    for (const [userId, bucket] of this.buckets) {
      if (bucket.units + (now - bucket.at) / 1000 * this.perSecond >= this.capacity) this.buckets.delete(userId)
    }
  }
}

function refuseAfter (wait: number): void {
  if (wait > 0) throw tooManyRequests(`Too many frames; retry in ${Math.ceil(wait)} seconds`, wait)
}
