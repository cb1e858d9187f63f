import type { ServerFrame } from '../../src/schemas/realtime.js'

/** A room's feed after `afterSeq`, oldest first, at most `limit` entries: the frames as they were sent live (see `feedAfter`). */
export type ReadFeed = (roomId: number, afterSeq: number, limit: number) => Promise<Array<{ seq: number, frame: ServerFrame }>>
/** The rooms' last seq (`rooms.last_seq`), in one query; a room missing from the answer does not exist. */
export type ReadLastSeqs = (roomIds: number[]) => Promise<Map<number, number>>

export interface SequencerOptions {
  /** How long a frame waits for its missing predecessor before the gap is read from the database. */
  gapWaitMs: number
  readFeed: ReadFeed
  readLastSeqs: ReadLastSeqs
  /** Sends a room's feed frame to its local sockets; called in seq order, each seq once. */
  deliver: (roomId: number, seq: number, frame: Buffer) => void
  /**
   * Told when the database could not be read READ_ATTEMPTS times in a row: the stage went on past
   * the frames it could not get (`from`..`to`), so the room is not held up any longer.
   */
  onGiveUp?: (roomId: number, gap: { from: number, to: number }, err: unknown) => void
}

/** Reads in a row that may fail before a stage gives up on the frames it is missing. */
export const READ_ATTEMPTS = 5
/** The longest wait between two reads of a failing database. */
const MAX_BACKOFF_MS = 2000
/** Feed entries read at once; a longer gap is read page after page. */
const READ_LIMIT = 1000

/**
 * One room's ordering stage on this instance, in front of delivery to its local sockets. Every
 * feed frame carries the room's seq (1, 2, 3, … without gaps, committed in that order), but frames
 * reach an instance in any order (two requests finish in either order; Redis races local
 * delivery) or not at all (Redis was away). The stage knows the next seq its sockets expect: that
 * frame is delivered at once and any held successors follow in order; a frame past it is held; a
 * frame below it is a duplicate and dropped. When the predecessor does not come within
 * `gapWaitMs`, the gap is read from the database (a frame at seq n means every seq below n is
 * committed, so the read finds it), and what was read and held goes out in order.
 *
 * A read that fails is retried with a doubling wait (capped at 2 s); after READ_ATTEMPTS failures
 * in a row the stage gives up on the missing frames, delivers what it holds in order and goes on
 * from there (`onGiveUp`): a room is never held up for more than a few seconds, and the clients see
 * a gap in seq, which `sync` closes once the database answers again.
 *
 * Its cost is per event (a comparison and a counter in order), never per socket.
 */
export class RoomSequencer {
  /** The seq the room's sockets expect next; undefined until the start is known (see `start`). */
  private next: number | undefined
  /** Frames past `next`, by seq, waiting for their predecessors. */
  private readonly held = new Map<number, Buffer>()
  /** The highest seq known to be committed (the room's last seq read from the database, a catch-up's end). */
  private known = 0
  private timer: NodeJS.Timeout | undefined
  private reading = false
  /** Reads that failed in a row. */
  private failures = 0
  private closed = false

  /**
   * `after`: the room's last seq as read before the first socket subscribed (its sockets expect what
   * follows). Undefined when it is not known: the stage holds what arrives and reads it at once.
   */
  constructor (readonly roomId: number, after: number | undefined, private readonly options: SequencerOptions) {
    if (after === undefined) this.settle(false)
    else this.start(after)
  }

  /** A live frame at `seq`: delivered now (and any held successors after it), held, or dropped as a duplicate. */
  offer (seq: number, frame: Buffer): 'delivered' | 'held' | 'duplicate' {
    if (this.closed) return 'duplicate'
    if (this.next === undefined || seq > this.next) {
      if (this.held.has(seq)) return 'duplicate'
      this.held.set(seq, frame)
      this.settle(false)
      return 'held'
    }
    if (seq < this.next) return 'duplicate'
    this.send(seq, frame)
    this.drain()
    this.settle(true)
    return 'delivered'
  }

  /**
   * Seqs up to `upTo` are committed (a catch-up read them; the database said so after Redis came
   * back): if they have not all been delivered, they are waited for, then read.
   */
  expect (upTo: number): void {
    if (this.closed || upTo <= this.known) return
    this.known = upTo
    this.settle(false)
  }

  /** Stops: its sockets are gone. A read in flight is ignored when it returns. */
  close (): void {
    this.closed = true
    clearTimeout(this.timer)
    this.held.clear()
  }

  /**
   * The start is known: the sockets expect what follows `after`. Frames already held were
   * committed after the first socket subscribed (they were published after it), so a start read
   * later than that cannot skip them: the stage starts at the oldest of them if that is earlier.
   */
  private start (after: number): void {
    let next = after + 1
    for (const seq of this.held.keys()) next = Math.min(next, seq)
    this.next = next
    this.known = Math.max(this.known, after)
    this.drain()
    this.settle(true)
  }

  private send (seq: number, frame: Buffer): void {
    this.next = seq + 1
    this.options.deliver(this.roomId, seq, frame)
  }

  /** Delivers held frames while the next one is there. */
  private drain (): void {
    let frame: Buffer | undefined
    while (!this.closed && this.next !== undefined && (frame = this.held.get(this.next)) !== undefined) {
      this.held.delete(this.next)
      this.send(this.next, frame)
    }
  }

  /** Delivers every held frame up to `upTo` in order, going past the seqs that are missing, and goes on from `upTo + 1`. */
  private skipTo (upTo: number): void {
    for (const seq of [...this.held.keys()].filter(s => s <= upTo).sort((a, b) => a - b)) {
      const frame = this.held.get(seq)!
      this.held.delete(seq)
      if (!this.closed && seq >= this.next!) this.send(seq, frame)
    }
    this.next = Math.max(this.next!, upTo + 1)
    this.drain()
  }

  private blocked (): boolean {
    return this.next === undefined || this.held.size > 0 || this.known >= this.next
  }

  /**
   * Arms the timer while something is missing (restarted when `progressed`: the wait is for the
   * frame now expected), clears it when nothing is.
   */
  private settle (progressed: boolean): void {
    if (this.closed || this.reading) return
    if (!this.blocked()) {
      clearTimeout(this.timer)
      this.timer = undefined
      this.failures = 0
      return
    }
    if (this.timer !== undefined && !progressed) return
    clearTimeout(this.timer)
    const wait = this.failures > 0
      ? Math.min(this.options.gapWaitMs * 2 ** this.failures, MAX_BACKOFF_MS)
      : this.next === undefined ? 0 : this.options.gapWaitMs
    this.timer = setTimeout(() => { this.fill().catch(() => {}) }, wait)
    this.timer.unref()
  }

  /** Reads what is missing from the database (the start, or the gap, page after page) and delivers it in order. */
  private async fill (): Promise<void> {
    this.timer = undefined
    if (this.closed || !this.blocked()) return
    this.reading = true
    try {
      if (this.next === undefined) {
        const after = (await this.options.readLastSeqs([this.roomId])).get(this.roomId) ?? 0
        if (this.closed) return
        this.start(after)
      }
      while (!this.closed && this.blocked()) {
        // What is known to be committed before the read starts: the read sees all of it.
        let bound = this.known
        for (const seq of this.held.keys()) bound = Math.max(bound, seq)
        const rows = await this.options.readFeed(this.roomId, this.next! - 1, READ_LIMIT)
        if (this.closed) return
        for (const { seq, frame } of rows) {
          if (seq >= this.next! && !this.held.has(seq)) this.held.set(seq, Buffer.from(JSON.stringify(frame)))
        }
        const full = rows.length === READ_LIMIT
        // A seq up to the last one read, or (when the read was complete) up to `bound`, that the
        // feed does not have will never come: go past it.
        this.skipTo(full ? rows.at(-1)!.seq : Math.max(bound, rows.at(-1)?.seq ?? 0))
        if (!full) break
      }
      this.failures = 0
    } catch (err) {
      this.failures++
      if (this.failures >= READ_ATTEMPTS) this.giveUp(err)
    } finally {
      this.reading = false
      this.settle(true)
    }
  }

  /**
   * The database failed READ_ATTEMPTS times in a row: what is held goes out in order, past the
   * missing frames, and the stage goes on from there. A stage that does not know its start and
   * holds nothing holds nothing up: it keeps trying.
   */
  private giveUp (err: unknown): void {
    if (this.closed || (this.next === undefined && this.held.size === 0)) return
    let from = this.next ?? Infinity
    let to = this.known
    for (const seq of this.held.keys()) {
      from = Math.min(from, seq)
      to = Math.max(to, seq)
    }
    this.next = from
    this.failures = 0
    this.options.onGiveUp?.(this.roomId, { from, to }, err)
    this.skipTo(to)
  }
}
