/** What `authenticate` needs to know about a token's user, besides the token. */
export interface AuthState {
  username: string
  role: string
  token_version: number
  disabled_at: Date | null
}

interface Entry { state: AuthState | undefined, expires: number }

/**
 * Recently read auth states, so an authenticated request costs no database round trip of its
 * own. A revocation (logout, new password or email, disabled) reaches it at once on this instance
 * and, through the bus (and the Redis fan-out), on the others (`revoke`); an entry lives `ttlMs` at most, which
 * bounds how long another instance may accept a revoked token while Redis is unreachable, and how
 * long a role changed outside the server (`npm run admin`) takes to apply. Requests for a user
 * whose state is being read wait for that read instead of starting their own (a burst of
 * upgrades by one user is one query, not one each).
 */
export class AuthStates {
  private readonly entries = new Map<number, Entry>()
  /** Versions revoked within the last `ttlMs`: a read that raced the revocation is not cached. */
  private readonly revoked = new Map<number, { version: number, expires: number }>()
  /** Reads under way, per user: shared by the requests that come meanwhile (not with a TTL of 0). */
  private readonly reading = new Map<number, Promise<AuthState | undefined>>()

  constructor (private readonly ttlMs: number, private readonly maxEntries: number) {}

  async get (userId: number, load: (userId: number) => Promise<AuthState | undefined>): Promise<AuthState | undefined> {
    const now = Date.now()
    const entry = this.entries.get(userId)
    if (entry !== undefined && entry.expires > now) return entry.state
    const shared = this.reading.get(userId)
    if (shared !== undefined) return await shared
    const read = load(userId)
    if (this.ttlMs > 0) {
      this.reading.set(userId, read)
      // Forgotten once settled (a failed read is not shared with later requests either).
      const forget = (): void => { if (this.reading.get(userId) === read) this.reading.delete(userId) }
      read.then(forget, forget)
    }
    const state = await read
    const revoked = this.revoked.get(userId)
    if (revoked !== undefined && revoked.expires > now && (state?.token_version ?? 0) < revoked.version) return state
    this.remember(this.entries, userId, { state, expires: now + this.ttlMs })
    return state
  }

  /** Every token of the user older than `version` was revoked. */
  revoke (userId: number, version: number): void {
    this.entries.delete(userId)
    // A read under way may predate the revocation: requests from now on read again.
    this.reading.delete(userId)
    this.remember(this.revoked, userId, { version, expires: Date.now() + this.ttlMs })
  }

  private remember<T> (map: Map<number, T>, userId: number, value: T): void {
    map.delete(userId)
    // Oldest first (insertion order): past the bound, the oldest entry goes.
    if (map.size >= this.maxEntries) map.delete(map.keys().next().value as number)
    map.set(userId, value)
  }
}
