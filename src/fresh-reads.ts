/**
 * Reads per key that callers asking at the same time share, without anyone getting an answer
 * older than their question: every caller gets a read that started after it asked. The first
 * caller starts one at once; those who ask while it runs share the next one, started when it
 * ends. A burst of N callers for one key (a user's upgrades) is two reads, not N.
 */
export class FreshReads<K, V> {
  /** The read under way, per key. */
  private readonly running = new Map<K, Promise<V>>()
  /** The read that starts once the running one ends, shared by those who ask meanwhile. */
  private readonly waiting = new Map<K, Promise<V>>()

  constructor (private readonly load: (key: K) => Promise<V>) {}

  async get (key: K): Promise<V> {
    const next = this.waiting.get(key)
    if (next !== undefined) return await next
    const running = this.running.get(key)
    if (running === undefined) return await this.start(key)
    const settled = async (): Promise<void> => { await running.then(() => {}, () => {}) }
    const read = settled().then(async () => {
      this.waiting.delete(key)
      return await this.start(key)
    })
    this.waiting.set(key, read)
    return await read
  }

  private async start (key: K): Promise<V> {
    const read = this.load(key)
    this.running.set(key, read)
    const forget = (): void => { if (this.running.get(key) === read) this.running.delete(key) }
    read.then(forget, forget)
    return await read
  }
}
