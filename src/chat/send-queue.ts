/** The most sends one statement stores: a longer queue waits for the next batch. */
export const MAX_BATCH = 100
/**
 * Statements in flight at once: past that, sends wait and go together in the next one. Fewer
 * statements of more rows cost the database less per send. Straight into the queue (no HTTP) on the
 * 2-core bench machine, 20 sends in flight over 16 rooms were stored at ≈2,960/s with 2, ≈2,760/s
 * with 1 and ≈1,300/s with 4 (mean batch 6.6, 10, 3.6); through HTTP, where the server, the
 * database and the load share the cores, 1 did better (bench P2). A database with more cores may
 * want more.
 */
export const MAX_IN_FLIGHT = 1

/** Runs one batch and settles each of its items: one answer per item, in order. */
export type BatchRunner<T, R> = (items: T[]) => Promise<Array<PromiseSettledResult<R>>>

interface Pending<T, R> {
  item: T
  resolve: (value: R) => void
  reject: (reason: unknown) => void
}

/**
 * Group commit for sends. A send runs at once, alone, when its room has no statement in flight and
 * fewer than `maxInFlight` statements run (no timer: at low load a send waits for nothing).
 * Otherwise it waits, and when a statement ends, the next one takes every waiting send of every
 * room that has none in flight (at most `maxBatch`, a room's sends in the order they came). So a
 * room is in at most one statement at a time (its sends are stored, and published, in order, and
 * two of our statements never wait on each other's room), and under load a statement stores what
 * arrived while the previous ones ran.
 */
export class SendQueue<T extends { room_id: number }, R> {
  /** Waiting sends by room, rooms in the order their first send began to wait. */
  private readonly waiting = new Map<number, Array<Pending<T, R>>>()
  /** Rooms with a statement in flight. */
  private readonly busy = new Set<number>()
  private running = 0

  constructor (
    private readonly run: BatchRunner<T, R>,
    private readonly options: { maxBatch: number, maxInFlight: number } = { maxBatch: MAX_BATCH, maxInFlight: MAX_IN_FLIGHT }
  ) {}

  async submit (item: T): Promise<R> {
    return await new Promise<R>((resolve, reject) => {
      const pending = { item, resolve, reject }
      if (!this.busy.has(item.room_id) && !this.waiting.has(item.room_id) && this.running < this.options.maxInFlight) {
        this.start([pending])
        return
      }
      const queued = this.waiting.get(item.room_id)
      if (queued === undefined) this.waiting.set(item.room_id, [pending])
      else queued.push(pending)
    })
  }

  private start (batch: Array<Pending<T, R>>): void {
    this.running++
    for (const { item } of batch) this.busy.add(item.room_id)
    this.settle(batch).finally(() => {
      this.running--
      for (const { item } of batch) this.busy.delete(item.room_id)
      this.next()
    }).catch(() => {})
  }

  /** Runs a batch and gives each send its answer; throws nothing. */
  private async settle (batch: Array<Pending<T, R>>): Promise<void> {
    let results: Array<PromiseSettledResult<R>>
    try {
      results = await this.run(batch.map(p => p.item))
    } catch (err) {
      results = batch.map(() => ({ status: 'rejected', reason: err }))
    }
    batch.forEach((pending, i) => {
      const result = results[i] ?? { status: 'rejected', reason: new Error('the batch gave no answer for this send') }
      if (result.status === 'fulfilled') pending.resolve(result.value)
      else pending.reject(result.reason)
    })
  }

  /** Starts statements for the rooms that wait and have none in flight, while there is room for them. */
  private next (): void {
    while (this.running < this.options.maxInFlight) {
      const batch: Array<Pending<T, R>> = []
      for (const [roomId, queued] of this.waiting) {
        if (this.busy.has(roomId)) continue
        batch.push(...queued.splice(0, this.options.maxBatch - batch.length))
        if (queued.length === 0) this.waiting.delete(roomId)
        if (batch.length === this.options.maxBatch) break
      }
      if (batch.length === 0) return
      this.start(batch)
    }
  }
}
