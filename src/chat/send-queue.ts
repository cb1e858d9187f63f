/** The most sends one statement stores: a longer queue waits for the next batch. */
export const MAX_BATCH = 100

/** Runs one batch of a key's items and settles each item: one answer per item, in order. */
export type BatchRunner<T, R> = (key: number, items: T[]) => Promise<Array<PromiseSettledResult<R>>>

interface Pending<T, R> {
  item: T
  resolve: (value: R) => void
  reject: (reason: unknown) => void
}

/**
 * Group commit, per key (a room): an item submitted while nothing runs for its key runs at once,
 * alone (no timer, so a lone send waits for nothing); items submitted while the key's batch is in
 * flight wait, and run together as the next batch, in the order they came, as soon as that one is
 * settled. So a key has at most one batch in flight, batches run in order, and under load a batch
 * is whatever arrived during the previous one (at most `maxBatch`).
 */
export class SendQueue<T, R> {
  /** A key is here while a batch of it runs: what waits for the next batch. */
  private readonly waiting = new Map<number, Array<Pending<T, R>>>()

  constructor (private readonly run: BatchRunner<T, R>, private readonly maxBatch = MAX_BATCH) {}

  async submit (key: number, item: T): Promise<R> {
    return await new Promise<R>((resolve, reject) => {
      const pending = { item, resolve, reject }
      const queued = this.waiting.get(key)
      if (queued !== undefined) {
        queued.push(pending)
        return
      }
      this.waiting.set(key, [])
      // drain settles every item itself and throws nothing.
      this.drain(key, [pending]).catch(() => {})
    })
  }

  /** Runs `batch`, then what queued meanwhile, until the key's queue is empty. */
  private async drain (key: number, batch: Array<Pending<T, R>>): Promise<void> {
    for (;;) {
      let results: Array<PromiseSettledResult<R>>
      try {
        results = await this.run(key, batch.map(p => p.item))
      } catch (err) {
        results = batch.map(() => ({ status: 'rejected', reason: err }))
      }
      batch.forEach((pending, i) => {
        const result = results[i] ?? { status: 'rejected', reason: new Error('the batch gave no answer for this item') }
        if (result.status === 'fulfilled') pending.resolve(result.value)
        else pending.reject(result.reason)
      })
      const queued = this.waiting.get(key)!
      if (queued.length === 0) {
        this.waiting.delete(key)
        return
      }
      batch = queued.splice(0, this.maxBatch)
    }
  }
}
