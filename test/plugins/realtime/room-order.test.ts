import t from 'tap'
import { FrameBudget } from '../../../plugins/realtime/budget.js'
import { Hub } from '../../../plugins/realtime/hub.js'
import { RoomOrder } from '../../../plugins/realtime/hub.js'

const frame = (seq: number): Buffer => Buffer.from(`frame ${seq}`)

t.test('live frames go out until a catch-up holds them; afterwards only those past it follow, in order', async t => {
  const order = new RoomOrder()
  t.equal(order.offer(1, 5, frame(5)), 'send', 'no catch-up: sent at once')
  t.ok(order.sentLive(1, 5), 'and remembered, so a catch-up skips it')
  order.hold(1)
  t.equal(order.offer(1, 8, frame(8)), 'held')
  t.equal(order.offer(1, 7, frame(7)), 'held')
  t.equal(order.offer(1, 6, frame(6)), 'held')
  t.equal(order.offer(2, 1, frame(1)), 'send', 'another room is not held')
  t.equal(order.heldUpTo(1), 8)
  const released = order.release(1, 6)
  t.same(released.map(h => h.seq), [7, 8], 'those the catch-up covered (up to 6) are dropped, the rest sorted')
  t.equal(order.offer(1, 6, frame(6)), 'skip', 'a live frame the catch-up already sent is a duplicate')
  t.equal(order.offer(1, 9, frame(9)), 'send')
  t.notOk(order.sentLive(1, 5), 'the catch-up reset what was seen live')
})

t.test('what went out live is remembered across gaps (a sequencer that gave up on a seq), and only that', async t => {
  const order = new RoomOrder()
  for (const seq of [10, 11, 12, 14, 15, 20]) t.equal(order.offer(1, seq, frame(seq)), 'send')
  t.same([9, 10, 11, 12, 13, 14, 15, 16, 19, 20, 21].filter(seq => order.sentLive(1, seq)), [10, 11, 12, 14, 15, 20],
    'a catch-up skips exactly the seqs sent live, not the missing 13 or 16–19')
  t.notOk(order.sentLive(2, 10), 'per room')
})

t.test('a failed or reset catch-up releases everything it held, in order, and knows no floor', async t => {
  const order = new RoomOrder()
  order.hold(3)
  order.offer(3, 12, frame(12))
  order.offer(3, 11, frame(11))
  t.same(order.release(3, undefined).map(h => h.seq), [11, 12])
  t.equal(order.offer(3, 1, frame(1)), 'send', 'no floor: nothing is taken for a duplicate')
})

t.test('holding from the moment a socket opens (?since=): the catch-up that follows keeps what was held', async t => {
  const order = new RoomOrder()
  order.hold(4)
  t.equal(order.offer(4, 9, frame(9)), 'held', 'a live frame before the catch-up started')
  order.hold(4)
  t.ok(order.holding(4))
  t.same(order.release(4, 8).map(h => h.seq), [9], 'still there when the catch-up (up to 8) is done')
  t.notOk(order.holding(4))
})

t.test('a socket that holds too much is reported as overflowing', async t => {
  const order = new RoomOrder()
  order.hold(1)
  let verdict = ''
  for (let seq = 1; seq <= 5001; seq++) verdict = order.offer(1, seq, frame(seq))
  t.equal(verdict, 'overflow', 'past 5,000 held frames')
  order.forget(1)
  t.equal(order.offer(1, 1, frame(1)), 'send', 'a forgotten room starts afresh')
})

t.test('FrameBudget: a burst, then the rate; debts wait to be refilled', async t => {
  const budget = new FrameBudget(6, 1)
  const now = 1_000_000
  for (let i = 0; i < 6; i++) t.equal(budget.take(7, 1, false, now), 0, `unit ${i + 1} of the burst`)
  t.equal(budget.take(7, 1, false, now), 1, 'the 7th waits a second')
  t.equal(budget.take(8, 1, false, now), 0, 'another user has their own budget')
  t.equal(budget.take(7, 1, false, now + 1000), 0, 'a second later one more unit')
  t.equal(budget.take(7, 10, true, now + 1000), 0, 'a debt is taken anyway')
  t.equal(budget.take(7, 1, false, now + 1000), 11, 'and the next unit waits until it is paid off')
  budget.prune(now + 60_000)
  t.equal(budget.take(7, 6, false, now + 60_000), 0, 'a pruned user starts with a full bucket')
})

t.test('FrameBudget.check: refuses (429) while less than a unit is left, and takes nothing', async t => {
  const budget = new FrameBudget(2, 1)
  const now = 1_000_000
  budget.check(7, now)
  t.equal(budget.take(7, 2, false, now), 0, 'checking took nothing: the whole burst is still there')
  t.throws(() => { budget.check(7, now) }, { statusCode: 429, code: 'RATE_LIMITED', retryAfter: 1 }, 'spent: refused')
  t.throws(() => { budget.check(7, now + 500) }, { statusCode: 429, code: 'RATE_LIMITED' }, 'half a unit is not enough')
  budget.check(7, now + 1000)
  t.equal(budget.take(7, 1, false, now + 1000), 0, 'a second later the unit is there')
})

t.test('Hub.reserve: sockets being opened count against the caps until added or given back', async t => {
  const noFeed = { gapWaitMs: 100, readFeed: async () => [], readLastSeqs: async () => new Map<number, number>() }
  const hub = new Hub({ maxBufferedBytes: 1024, maxSocketsPerUser: 2, maxSocketsPerAddress: 3, feed: noFeed })
  const first = hub.reserve(1, 'a')
  const second = hub.reserve(1, 'a')
  const third = hub.reserve(1, 'a')
  t.ok(first.held && second.held, 'the first two of a user are held')
  t.same({ held: third.held, refusal: third.refusal }, { held: false, refusal: 'Too many sockets open for this user' }, 'the third is past the user cap')
  t.equal(hub.reserve(2, 'a').held, true, 'another user from the address')
  t.same(hub.reserve(3, 'a').refusal, 'Too many sockets open from this address', 'past the address cap')
  hub.release(first)
  hub.release(first)
  t.equal(hub.reserve(1, 'a').held, true, 'a place given back (twice counts once) is free again')
  t.equal(hub.reserve(1, 'a').held, false, 'and only one')
})
