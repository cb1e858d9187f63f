import t from 'tap'
import { FreshReads } from '../src/fresh-reads.js'

/** A loader whose reads end when the test says so; each read answers the value at its start. */
function controlled (): { load: (key: string) => Promise<number>, reads: () => number, finish: () => void, value: { now: number } } {
  const value = { now: 0 }
  const pending: Array<() => void> = []
  let reads = 0
  const load = async (): Promise<number> => {
    reads++
    const answer = value.now
    await new Promise<void>(resolve => { pending.push(resolve) })
    return answer
  }
  return { load, reads: () => reads, finish: () => { for (const end of pending.splice(0)) end() }, value }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

t.test('callers at the same time share reads, and nobody gets a read begun before they asked', async t => {
  const { load, reads, finish, value } = controlled()
  const fresh = new FreshReads(load)
  const first = fresh.get('u')
  t.equal(reads(), 1, 'the first caller starts a read at once')
  value.now = 1
  const later = Array.from({ length: 19 }, async () => await fresh.get('u'))
  t.equal(reads(), 1, 'those who ask while it runs wait for it to end')
  finish()
  await tick()
  t.equal(reads(), 2, 'then share one read')
  finish()
  t.equal(await first, 0)
  t.same(await Promise.all(later), Array(19).fill(1), 'begun after they asked: they see the change the first read could not')
  t.equal(reads(), 2, 'twenty callers, two reads')
  const other = fresh.get('v')
  t.equal(reads(), 3, 'another key has reads of its own')
  finish()
  t.equal(await other, 1)
})

t.test('a failed read fails only those who shared it', async t => {
  let calls = 0
  const fresh = new FreshReads(async () => {
    calls++
    if (calls === 1) throw new Error('down')
    return calls
  })
  await t.rejects(fresh.get('u'), /down/)
  t.equal(await fresh.get('u'), 2, 'the next caller reads again')
})
