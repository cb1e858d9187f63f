// Issue 17, item 2: a user's catch-ups (replays) on one instance run one at a time, whatever the
// number of their sockets (one waiting for its client holds the next for replayPatienceMs at most),
// and one queued behind the others is dropped unread once its socket closed.
import type { Duplex } from 'node:stream'
import t, { type Test } from 'tap'
import type { WebSocket } from 'ws'
import { Hub } from '../../../plugins/realtime/hub.js'

const noFeed = { gapWaitMs: 100, readFeed: async () => [], readLastSeqs: async () => new Map<number, number>() }
const ROOM = 7

/** A socket that records what it is sent (no network); `full`: its buffer stays past the limit until `drain`. */
function fakeSocket (full = false): { socket: WebSocket, connection: Duplex, sent: string[], drain: () => void } {
  const sent: string[] = []
  const waiting: Array<() => void> = []
  const socket = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: full ? 1 << 30 : 0,
    send (data: unknown, _options: unknown, done?: () => void) {
      sent.push(String(data))
      if (done !== undefined) waiting.push(done)
    },
    close () { this.readyState = 3 }
  }
  const connection = { cork () {}, uncork () {}, destroyed: false, once () {} }
  const drain = (): void => { for (const done of waiting.splice(0)) done() }
  return { socket: socket as unknown as WebSocket, connection: connection as unknown as Duplex, sent, drain }
}

function setUp (options: { replayPatienceMs?: number } = {}) {
  const hub = new Hub({ maxBufferedBytes: 1 << 20, maxSocketsPerUser: 20, maxSocketsPerAddress: 20, feed: noFeed, ...options })
  const open = (userId: number, full = false) => {
    const fake = fakeSocket(full)
    return { client: hub.add(fake.socket, fake.connection, hub.reserve(userId, 'a'), 0)!, ...fake }
  }
  return { hub, open }
}

/** A read that records how many run at once, and finishes when told. */
function reads () {
  let running = 0
  let most = 0
  const started: string[] = []
  const finish = new Map<string, () => void>()
  const read = (name: string, frames = 0) => async () => {
    started.push(name)
    most = Math.max(most, ++running)
    await new Promise<void>(resolve => finish.set(name, resolve))
    running--
    const feed = Array.from({ length: frames }, (_, i) => ({ seq: i + 1, frame: { type: 'message:deleted' as const, payload: { seq: i + 1, room_id: ROOM, message_id: i + 1 } } }))
    return { reset: false as const, frames: feed, upTo: frames }
  }
  return { read, started, finish: (name: string) => finish.get(name)!(), most: () => most }
}

const turns = async (n = 5): Promise<void> => { for (let i = 0; i < n; i++) await new Promise(resolve => setImmediate(resolve)) }

t.test('the replays of one user run one at a time, in the order asked; another user\'s run alongside', async t => {
  const { hub, open } = setUp()
  const a = open(1)
  const b = open(1)
  const other = open(2)
  const r = reads()
  const first = hub.catchUp(a.client, ROOM, r.read('a', 250))
  const second = hub.catchUp(b.client, ROOM, r.read('b'))
  const others = hub.catchUp(other.client, ROOM, r.read('other'))
  await turns()
  t.same(r.started, ['a', 'other'], 'the user\'s second replay waits; the other user\'s is not held up')
  r.finish('other')
  r.finish('a')
  await turns()
  t.equal(a.sent.length, 250, 'the first replay was sent in full')
  t.same(r.started, ['a', 'other', 'b'], 'then the second one is read, once the first was sent')
  r.finish('b')
  t.same(await Promise.all([first, second, others]), [250, 0, 0], 'each replay answered')
  t.equal(r.most(), 2, 'never two of one user at once')
})

t.test('a replay queued behind the user\'s others is dropped unread once its socket closed', async t => {
  const { hub, open } = setUp()
  const a = open(1)
  const b = open(1)
  const r = reads()
  const first = hub.catchUp(a.client, ROOM, r.read('a'))
  const queued = hub.catchUp(b.client, ROOM, r.read('b'))
  await turns()
  b.client.socket.close()
  hub.remove(b.client)
  r.finish('a')
  t.equal(await queued, undefined, 'the queued replay ends without an answer')
  t.same(r.started, ['a'], 'and was never read')
  t.equal(b.sent.length, 0, 'nothing was sent to its socket')
  t.equal(await first, 0)
  const later = hub.catchUp(a.client, ROOM, r.read('later'))
  await turns()
  t.same(r.started, ['a', 'later'], 'the user\'s next replay is not held up by it')
  r.finish('later')
  t.equal(await later, 0)
})

/** Two replays of one user, queued at once: the first on a socket whose client does not read until told (`slow.drain`). */
async function slowThenNext (replayPatienceMs: number, frames: number) {
  const { hub, open } = setUp({ replayPatienceMs })
  const slow = open(1, true)
  const b = open(1)
  const r = reads()
  const first = hub.catchUp(slow.client, ROOM, r.read('slow', frames))
  const second = hub.catchUp(b.client, ROOM, r.read('b'))
  await turns()
  return { slow, r, first, second }
}

/** The next replay (started, empty) finishes; then the slow client reads the rest of the first: `frames` in all. */
async function bothEnd (t: Test, { slow, r, first, second }: Awaited<ReturnType<typeof slowThenNext>>, frames: number): Promise<void> {
  r.finish('b')
  t.equal(await second, 0)
  slow.drain()
  await turns()
  slow.drain()
  t.equal(await first, frames, 'the first one finishes once its client reads')
}

t.test('a replay waiting for its client to read keeps the user\'s next one waiting, for replayPatienceMs', async t => {
  const replays = await slowThenNext(100, 150)
  const { slow, r } = replays
  t.same(r.started, ['slow'], 'one at a time')
  r.finish('slow')
  await turns()
  t.equal(slow.sent.length, 100, 'the first chunk went out and waits to be written')
  t.same(r.started, ['slow'], 'the next replay still waits: a client reading at a normal pace is soon back')
  await new Promise(resolve => setTimeout(resolve, 150))
  t.same(r.started, ['slow', 'b'], 'past the patience the next replay started: the server is not what the first waits for')
  await bothEnd(t, replays, 150)
})

t.test('a replay whose client reads within the patience keeps its turn to the end', async t => {
  const { slow, r, first, second } = await slowThenNext(10_000, 250)
  r.finish('slow')
  for (let i = 0; i < 3; i++) {
    await turns()
    t.same(r.started, ['slow'], `the next replay waits while chunk ${i + 1} is written`)
    slow.drain()
  }
  t.equal(await first, 250)
  await turns()
  t.same(r.started, ['slow', 'b'], 'then the next one starts')
  r.finish('b')
  t.equal(await second, 0)
})

t.test('a client that reads each chunk within the patience but slowly holds the next replay for replayPatienceMs in all, not per chunk', async t => {
  const replays = await slowThenNext(100, 350)
  const { slow, r } = replays
  r.finish('slow')
  for (let i = 0; i < 3; i++) {
    await new Promise(resolve => setTimeout(resolve, 60))
    slow.drain()
    await turns()
  }
  t.same(r.started, ['slow', 'b'], 'the next replay started though no single wait reached the patience')
  await bothEnd(t, replays, 350)
})
