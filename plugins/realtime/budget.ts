/**
 * A per-user budget of WebSocket work (every frame costs at least one unit; a `sync` more, by the
 * rooms and rows it replays), as a token bucket: `capacity` units, refilled at `perSecond`. The
 * user's sockets on this instance share it, so opening more sockets buys no more work.
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
    const bucket = this.buckets.get(userId) ?? { units: this.capacity, at: now }
    bucket.units = Math.min(this.capacity, bucket.units + (now - bucket.at) / 1000 * this.perSecond)
    bucket.at = now
    this.buckets.set(userId, bucket)
    if (bucket.units >= cost || debt) {
      bucket.units -= cost
      return 0
    }
    return (cost - bucket.units) / this.perSecond
  }

  /** Gives back units taken for work that turned out smaller (a reservation). */
  refund (userId: number, units: number): void {
    const bucket = this.buckets.get(userId)
    if (bucket !== undefined) bucket.units = Math.min(this.capacity, bucket.units + units)
  }

  /** Forgets full buckets (called on the heartbeat): memory follows the users active lately. */
  prune (now = Date.now()): void {
    for (const [userId, bucket] of this.buckets) {
      if (bucket.units + (now - bucket.at) / 1000 * this.perSecond >= this.capacity) this.buckets.delete(userId)
    }
  }
}
