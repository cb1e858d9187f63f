import t from 'tap'
import { type AuthState, AuthStates } from '../../../plugins/auth/auth-states.js'

const state = (version: number): AuthState => ({ username: 'u', role: 'user', token_version: version, disabled_at: null })

/** A loader that answers from `db` and counts its reads. */
function loader (db: Map<number, AuthState>): { load: (id: number) => Promise<AuthState | undefined>, reads: () => number } {
  let reads = 0
  return { load: async id => { reads++; return db.get(id) }, reads: () => reads }
}

t.test('a state is read once and reused while fresh', async t => {
  const db = new Map([[1, state(0)]])
  const { load, reads } = loader(db)
  const states = new AuthStates(60_000, 10)
  t.same(await states.get(1, load), state(0))
  t.same(await states.get(1, load), state(0))
  t.equal(reads(), 1)
})

t.test('a revocation forgets the user at once', async t => {
  const db = new Map([[1, state(0)]])
  const { load, reads } = loader(db)
  const states = new AuthStates(60_000, 10)
  await states.get(1, load)
  db.set(1, state(1))
  states.revoke(1, 1)
  t.equal((await states.get(1, load))?.token_version, 1, 'the new version is read')
  t.equal(reads(), 2)
})

t.test('a read that raced the revocation (older version) is not kept', async t => {
  const db = new Map([[1, state(0)]])
  const { load, reads } = loader(db)
  const states = new AuthStates(60_000, 10)
  states.revoke(1, 1)
  t.equal((await states.get(1, load))?.token_version, 0, 'the stale answer serves only the request that read it')
  db.set(1, state(1))
  t.equal((await states.get(1, load))?.token_version, 1, 'the next request reads again')
  t.equal(reads(), 2)
})

t.test('a TTL of 0 reads every time; the number of users kept is bounded', async t => {
  const db = new Map([[1, state(0)], [2, state(0)], [3, state(0)]])
  const off = loader(db)
  const uncached = new AuthStates(0, 10)
  await uncached.get(1, off.load)
  await uncached.get(1, off.load)
  t.equal(off.reads(), 2)

  const small = loader(db)
  const bounded = new AuthStates(60_000, 2)
  for (const id of [1, 2, 3]) await bounded.get(id, small.load)
  await bounded.get(3, small.load)
  t.equal(small.reads(), 3, 'the newest is kept')
  await bounded.get(1, small.load)
  t.equal(small.reads(), 4, 'the oldest was let go')
})

t.test('requests that come while a user\'s state is being read share that read; after a revocation they read again', async t => {
  const db = new Map([[1, state(0)]])
  const { load, reads } = loader(db)
  const states = new AuthStates(60_000, 10)
  const burst = await Promise.all(Array.from({ length: 20 }, async () => await states.get(1, load)))
  t.ok(burst.every(s => s?.token_version === 0), 'all of them get the state')
  t.equal(reads(), 1, 'twenty requests at once: one read')

  const slow = new AuthStates(60_000, 10)
  const pending: Array<() => void> = []
  let slowReads = 0
  const slowLoad = async (id: number): Promise<AuthState | undefined> => {
    slowReads++
    const answer = db.get(id)
    await new Promise<void>(resolve => { pending.push(resolve) })
    return answer
  }
  const first = slow.get(1, slowLoad)
  db.set(1, state(1))
  slow.revoke(1, 1)
  const second = slow.get(1, slowLoad)
  t.equal(slowReads, 2, 'a request after the revocation does not wait for the read that began before it')
  for (const finish of pending) finish()
  t.equal((await first)?.token_version, 0)
  t.equal((await second)?.token_version, 1)

  const failing = new AuthStates(60_000, 10)
  await t.rejects(Promise.all([failing.get(1, async () => { throw new Error('down') }), failing.get(1, load)]), /down/)
  t.equal((await failing.get(1, load))?.token_version, 1, 'a failed read is not shared with the requests after it')
})
