import t from 'tap'
import { FrameBudget } from '../../../plugins/realtime/budget.js'
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
