// The ordering stage on its own: its database is a function it is given (ReadFeed, ReadLastSeqs),
// here a room's feed kept in an array, so each case can say what is committed and what a read does.
// Delivery through the hub, PostgreSQL and Redis is tested in order.test.ts.
import t, { type Test } from 'tap'
import { READ_ATTEMPTS, type ReadFeed, RoomSequencer, type SequencerOptions } from '../../../plugins/realtime/room-sequencer.js'
import type { ServerFrame } from '../../../src/schemas/realtime.js'
import { PATIENCE_MS } from '../../ws-client.js'

const ROOM = 7

/** The frame of seq n, as the feed stores it. */
const frame = (seq: number): ServerFrame => ({ type: 'message:deleted', payload: { seq, room_id: ROOM, message_id: seq } })
const bytes = (seq: number): Buffer => Buffer.from(JSON.stringify(frame(seq)))

/** A room whose feed holds seqs 1..committed (minus `absent`), and a stage in front of it that records what it delivers. */
function room (t: Test, options: { committed: number, absent?: number[], after?: number | undefined, failReads?: number, readsWaitFor?: Promise<void> }) {
  const delivered: number[] = []
  const sent: string[] = []
  const reads: Array<{ after: number, limit: number }> = []
  const gaveUp: Array<{ from: number, to: number }> = []
  let failReads = options.failReads ?? 0
  let waiters: Array<() => void> = []
  const state = { committed: options.committed, lastSeqReads: 0 }
  const readFeed: ReadFeed = async (roomId, after, limit) => {
    t.equal(roomId, ROOM)
    reads.push({ after, limit })
    await options.readsWaitFor
    if (failReads > 0) {
      failReads--
      throw new Error('database unreachable')
    }
    const rows = []
    for (let seq = after + 1; seq <= state.committed && rows.length < limit; seq++) if (!(options.absent ?? []).includes(seq)) rows.push({ seq, frame: frame(seq) })
    return rows
  }
  const sequencerOptions: SequencerOptions = {
    gapWaitMs: 1,
    readFeed,
    readLastSeqs: async roomIds => {
      state.lastSeqReads++
      return new Map(roomIds.map(id => [id, state.committed]))
    },
    deliver: (roomId, seq, frame) => {
      t.equal(roomId, ROOM)
      delivered.push(seq)
      sent.push(String(frame))
      const ready = waiters
      waiters = []
      for (const wake of ready) wake()
    },
    onGiveUp: (_roomId, gap) => { gaveUp.push(gap) }
  }
  const stage = new RoomSequencer(ROOM, 'after' in options ? options.after : 0, sequencerOptions)
  t.teardown(() => { stage.close() })
  /** Waits (without timing anything) until `n` frames were delivered. */
  async function deliveredCount (n: number): Promise<number[]> {
    const timeout = Date.now() + PATIENCE_MS
    while (delivered.length < n) {
      if (Date.now() > timeout) throw new Error(`gave up waiting for ${n} deliveries; got ${JSON.stringify(delivered)}`)
      await new Promise<void>(resolve => { waiters.push(resolve); setTimeout(resolve, 50) })
    }
    return delivered
  }
  return { stage, delivered, sent, reads, gaveUp, state, deliveredCount }
}

t.test('in order: delivered at once; out of order: held until the predecessor comes; duplicates dropped', async t => {
  const { stage, delivered, reads } = room(t, { committed: 0 })
  t.equal(stage.offer(1, bytes(1)), 'delivered')
  t.equal(stage.offer(3, bytes(3)), 'held', 'seq 2 has not come')
  t.equal(stage.offer(4, bytes(4)), 'held')
  t.equal(stage.offer(3, bytes(3)), 'duplicate', 'held twice')
  t.same(delivered, [1])
  t.equal(stage.offer(2, bytes(2)), 'delivered')
  t.same(delivered, [1, 2, 3, 4], 'the held successors follow in order')
  t.equal(stage.offer(2, bytes(2)), 'duplicate', 'below the next expected seq')
  t.equal(stage.offer(4, bytes(4)), 'duplicate')
  t.equal(stage.offer(5, bytes(5)), 'delivered')
  t.same(delivered, [1, 2, 3, 4, 5], 'each once')
  t.same(reads, [], 'nothing was missing long enough to be read')
})

t.test('it starts after the seq it is given', async t => {
  const { stage, delivered } = room(t, { committed: 10, after: 10 })
  t.equal(stage.offer(10, bytes(10)), 'duplicate', 'the sockets had it before they subscribed')
  t.equal(stage.offer(11, bytes(11)), 'delivered')
  t.same(delivered, [11])
})

t.test('a predecessor that never comes is read from the feed, then the held frames follow', async t => {
  const { stage, reads, sent, deliveredCount } = room(t, { committed: 4 })
  stage.offer(1, bytes(1))
  stage.offer(4, bytes(4))
  stage.offer(3, bytes(3))
  t.same(await deliveredCount(4), [1, 2, 3, 4], 'seq 2 came from the read')
  t.same(reads, [{ after: 1, limit: 1000 }], 'one read, after the last seq delivered')
  t.same(JSON.parse(sent[1]!), frame(2), 'as the frame sent live')
})

t.test('a failed read is retried, and the gap is filled once the database answers', async t => {
  const { stage, reads, gaveUp, deliveredCount } = room(t, { committed: 3, failReads: 2 })
  stage.offer(3, bytes(3))
  t.same(await deliveredCount(3), [1, 2, 3], 'in order after two failures')
  t.equal(reads.length, 3, 'two failed reads, one that worked')
  t.same(gaveUp, [])
})

t.test(`after ${READ_ATTEMPTS} failed reads in a row it goes on past the missing frames, in order, and says so`, async t => {
  const { stage, reads, gaveUp, deliveredCount } = room(t, { committed: 6, failReads: READ_ATTEMPTS })
  stage.offer(1, bytes(1))
  stage.offer(5, bytes(5))
  stage.offer(3, bytes(3))
  t.same(await deliveredCount(3), [1, 3, 5], 'what was held, in order, past 2 and 4')
  t.equal(reads.length, READ_ATTEMPTS)
  t.same(gaveUp, [{ from: 2, to: 5 }])
  t.equal(stage.offer(4, bytes(4)), 'duplicate', 'too late now')
  t.equal(stage.offer(6, bytes(6)), 'delivered', 'and the room goes on')
})

t.test('a seq the feed does not have, once a complete read says so, is gone past (never waited for again)', async t => {
  const { stage, reads, deliveredCount } = room(t, { committed: 3, absent: [2] })
  stage.offer(1, bytes(1))
  stage.offer(3, bytes(3))
  t.same(await deliveredCount(2), [1, 3])
  t.equal(stage.offer(4, bytes(4)), 'delivered', 'not held')
  t.equal(reads.length, 1)
})

t.test('a known committed seq that nothing follows is read (a catch-up\'s end, the database after Redis came back)', async t => {
  const { stage, reads, deliveredCount } = room(t, { committed: 3 })
  stage.offer(1, bytes(1))
  stage.expect(3)
  t.same(await deliveredCount(3), [1, 2, 3])
  t.same(reads, [{ after: 1, limit: 1000 }])
  stage.expect(3)
  stage.expect(2)
  t.equal(stage.offer(4, bytes(4)), 'delivered', 'nothing missing: nothing held or read')
  t.equal(reads.length, 1)
})

t.test('a long gap is read page after page', async t => {
  const { stage, reads, deliveredCount } = room(t, { committed: 2500 })
  stage.offer(2500, bytes(2500))
  const delivered = await deliveredCount(2500)
  t.ok(delivered.every((seq, i) => seq === i + 1), '1..2500 in order')
  t.same(reads.map(r => r.after), [0, 1000, 2000])
})

t.test('without a start it holds what arrives until it has read the room\'s last seq; frames held meanwhile are not skipped', async t => {
  const { stage, state, reads, deliveredCount } = room(t, { committed: 5, after: undefined })
  // Published after the stage was made, so committed after its first socket subscribed (even if the read says 6).
  t.equal(stage.offer(5, bytes(5)), 'held')
  state.committed = 6
  t.equal(stage.offer(6, bytes(6)), 'held')
  t.same(await deliveredCount(2), [5, 6], 'from the oldest held, not after the last seq read')
  t.equal(state.lastSeqReads, 1)
  t.same(reads, [], 'nothing between them was missing')
  t.equal(stage.offer(7, bytes(7)), 'delivered')
})

t.test('without a start and nothing held, it starts after the last seq it read', async t => {
  const { stage, state, deliveredCount } = room(t, { committed: 9, after: undefined })
  while (state.lastSeqReads === 0) await new Promise(resolve => setTimeout(resolve, 5))
  await new Promise(resolve => setTimeout(resolve, 5))
  t.equal(stage.offer(9, bytes(9)), 'duplicate', 'committed before it started')
  t.equal(stage.offer(10, bytes(10)), 'delivered')
  t.same(await deliveredCount(1), [10])
})

t.test('closed: nothing more is delivered, not even a read in flight', async t => {
  let answer = (): void => {}
  const { stage, delivered, reads } = room(t, { committed: 3, readsWaitFor: new Promise(resolve => { answer = resolve }) })
  stage.offer(3, bytes(3))
  while (reads.length === 0) await new Promise(resolve => setTimeout(resolve, 1))
  stage.close()
  answer()
  await new Promise(resolve => setTimeout(resolve, 20))
  t.same(delivered, [])
  t.equal(stage.offer(1, bytes(1)), 'duplicate')
})
