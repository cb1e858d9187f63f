import t from 'tap'
import { SendQueue } from '../../src/chat/send-queue.js'

interface Item { room_id: number, name: string }
interface Call { items: string[], answer: (results: Array<PromiseSettledResult<string>>) => void, fail: (err: unknown) => void }

/** A batch runner whose batches the test settles by hand: what each call was given, and a way to answer it. */
function manualRunner (): { calls: Call[], run: (items: Item[]) => Promise<Array<PromiseSettledResult<string>>> } {
  const calls: Call[] = []
  return {
    calls,
    run: async items => await new Promise((resolve, reject) => { calls.push({ items: items.map(i => i.name), answer: resolve, fail: reject }) })
  }
}

const ok = (value: string): PromiseSettledResult<string> => ({ status: 'fulfilled', value })
const echo = (call: Call): void => { call.answer(call.items.map(ok)) }
const settle = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }
const item = (roomId: number, name: string): Item => ({ room_id: roomId, name })

t.test('a lone send runs at once, alone; what its room gets meanwhile is the next batch, in order', async t => {
  const { calls, run } = manualRunner()
  const queue = new SendQueue(run, { maxBatch: 100, maxInFlight: 4 })
  const first = queue.submit(item(1, 'a'))
  t.same(calls.map(c => c.items), [['a']], 'the first send ran at once, before anything else happened (no timer)')

  const waiting = [queue.submit(item(1, 'b')), queue.submit(item(1, 'c')), queue.submit(item(1, 'd'))]
  await settle()
  t.equal(calls.length, 1, 'nothing more runs for the room while its statement is in flight')

  calls[0]!.answer([ok('A')])
  t.equal(await first, 'A')
  await settle()
  t.same(calls.map(c => c.items), [['a'], ['b', 'c', 'd']], 'the sends that waited are one batch, in the order they came')
  calls[1]!.answer([ok('B'), { status: 'rejected', reason: new Error('not C') }, ok('D')])
  const results = await Promise.allSettled(waiting)
  t.same(results.map(r => r.status === 'fulfilled' ? r.value : (r.reason as Error).message), ['B', 'not C', 'D'], 'each send gets its own answer')

  const later = queue.submit(item(1, 'e'))
  t.same(calls.at(-1)!.items, ['e'], 'once the room is idle, a send runs at once again')
  echo(calls.at(-1)!)
  t.equal(await later, 'e')
})

t.test('other rooms run beside it up to maxInFlight; past that, the waiting rooms go together, a room never in two batches', async t => {
  const { calls, run } = manualRunner()
  const queue = new SendQueue(run, { maxBatch: 100, maxInFlight: 2 })
  const sent = [queue.submit(item(1, 'a1')), queue.submit(item(2, 'b1'))]
  t.same(calls.map(c => c.items), [['a1'], ['b1']], 'two rooms, two statements at once')
  sent.push(queue.submit(item(3, 'c1')), queue.submit(item(1, 'a2')), queue.submit(item(4, 'd1')), queue.submit(item(3, 'c2')))
  await settle()
  t.equal(calls.length, 2, 'no third statement while two run')

  calls[1]!.fail(new Error('database down'))
  await t.rejects(sent[1]!, { message: 'database down' }, 'a failed batch fails its own sends')
  await settle()
  t.same(calls[2]?.items, ['c1', 'c2', 'd1'], 'the next statement takes every waiting room that has none in flight (room 1 still has one)')
  echo(calls[0]!)
  await settle()
  t.same(calls[3]?.items, ['a2'], 'room 1 goes once its statement is done')
  echo(calls[2]!)
  echo(calls[3]!)
  t.same(await Promise.all([sent[0], ...sent.slice(2)]), ['a1', 'c1', 'a2', 'd1', 'c2'])
})

t.test('a batch is at most maxBatch sends; the rest go in the next one', async t => {
  const { calls, run } = manualRunner()
  const queue = new SendQueue(run, { maxBatch: 2, maxInFlight: 4 })
  const all = ['a', 'b', 'c', 'd', 'e'].map(name => queue.submit(item(7, name)))
  echo(calls[0]!)
  await settle()
  echo(calls[1]!)
  await settle()
  echo(calls[2]!)
  t.same(await Promise.all(all), ['a', 'b', 'c', 'd', 'e'])
  t.same(calls.map(c => c.items), [['a'], ['b', 'c'], ['d', 'e']])
})
