/**
 * At most one event per key every `intervalMs` (per instance): `allow` says whether this one may
 * go; the others in the interval are dropped. Old entries are pruned by `prune` (called on the
 * heartbeat), so memory follows the keys active in the last interval.
 */
export class Throttle {
  private readonly last = new Map<string, number>()

  constructor (private readonly intervalMs: number) {}

  allow (key: string, now = Date.now()): boolean {
    const previous = this.last.get(key)
    if (previous !== undefined && now - previous < this.intervalMs) return false
    this.last.set(key, now)
    return true
  }

  prune (now = Date.now()): void {
    for (const [key, at] of this.last) if (now - at >= this.intervalMs) this.last.delete(key)
  }
}
