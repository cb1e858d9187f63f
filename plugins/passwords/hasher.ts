import { createHmac } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Piscina } from 'piscina'
import type { PasswordHasher as Hasher } from '../../src/chat/users.js'

/**
 * bcrypt reads only the first 72 bytes. Every password is first turned into a 44-byte
 * HMAC-SHA256 (base64), so two passwords that share 72 bytes never both log in, and the whole
 * password always counts. The key is fixed (not a secret): rotating JWT_SECRET must not lock
 * everyone out.
 */
function prehash (password: string): string {
  return createHmac('sha256', 'chat-app/password/v1').update(password, 'utf8').digest('base64')
}

/** A bcrypt hash of a password nobody has, so an unknown email costs as much as a wrong password. */
const DECOY_PASSWORD = 'decoy-for-unknown-accounts'

/**
 * Hashing threads: one per core. bcrypt only computes, so more threads than cores would only
 * queue; fewer (measured with bench P5 on 2 cores: 1 thread) gave the event loop a few ms of p99
 * back during a login storm but cost 40% of the logins per second.
 */
export const HASH_THREADS = Math.max(1, availableParallelism())

export class PasswordHasher implements Hasher {
  private readonly pool: Piscina
  private decoy: Promise<string> | undefined

  constructor (private readonly cost: number) {
    this.pool = new Piscina({
      filename: new URL('./worker.mjs', import.meta.url).href,
      minThreads: 0,
      maxThreads: HASH_THREADS,
      idleTimeout: 30_000,
      // The worker is plain JavaScript: it needs none of the parent's loader flags (tsx, a test
      // runner's hooks), which made each new thread take over a second to start.
      execArgv: []
    })
  }

  async hash (password: string): Promise<string> {
    return await this.pool.run({ password: prehash(password), cost: this.cost }, { name: 'hash' })
  }

  async verify (password: string, hash: string): Promise<boolean> {
    return await this.pool.run({ password: prehash(password), hash }, { name: 'verify' })
  }

  /** Spends one bcrypt comparison on nothing, for login with an unknown email. */
  async verifyDecoy (password: string): Promise<false> {
    this.decoy ??= this.hash(DECOY_PASSWORD)
    await this.verify(password, await this.decoy)
    return false
  }

  async close (): Promise<void> {
    await this.pool.destroy()
  }
}
