// Live order (CONTRACT.md, "The room feed"): on every socket, on every instance, a room's feed
// frames arrive in seq order with no gap and no duplicate, when senders race on two instances,
// when a frame's publish never happened, and when Redis was away while frames were published.
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { createRoom, joinRoom, seedMessages, type Session, signUp } from '../../helper.js'
import { type Frame, PrivateRedis, TestSocket, twoInstances } from '../../ws-client.js'

async function post (app: FastifyInstance, user: Session, roomId: number, content: string): Promise<void> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: roomId, content } })
  if (response.statusCode !== 201) throw new Error(`send: ${response.statusCode} ${response.body}`)
}

/** The seqs of the room's feed frames the socket got, counted from `base` (the members' joins took 1..base before any socket opened). */
const feedSeqs = (socket: TestSocket, roomId: number, base: number): number[] =>
  socket.all((f: Frame) => f.payload?.room_id === roomId && typeof f.payload?.seq === 'number').map(f => f.payload.seq - base)

/** Waits for the frame at `base + seq` (the room's frames come in order, so every one before it came first). */
async function upTo (socket: TestSocket, roomId: number, seq: number, base: number): Promise<void> {
  await socket.next(f => f.payload?.room_id === roomId && f.payload?.seq === base + seq, `seq ${base + seq} of room ${roomId}`)
}

const range = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => from + i)

/** Two instances on one database and Redis; a room whose members have sockets on both. */
async function cluster (t: Test, members: number) {
  const redis = await PrivateRedis.start(t)
  const { a, b, urlA, urlB } = await twoInstances(t, redis.url)
  const users: Session[] = []
  for (let i = 0; i < members; i++) users.push(await signUp(i % 2 === 0 ? a : b))
  const room = await createRoom(a, users[0]!, 'order')
  for (const user of users.slice(1)) await joinRoom(b, user, room)
  // Each join took a seq (member:joined): the messages below start after them.
  return { redis, a, b, urlA, urlB, users, room, base: members - 1 }
}

t.test('senders racing on two instances, over REST and WebSocket: every socket on both sees 1..N once, in order', async t => {
  const { a, b, urlA, urlB, users, room, base } = await cluster(t, 4)
  // Every member with a socket on each instance; each of those sockets also sends.
  const sockets: TestSocket[] = []
  for (const user of users) sockets.push(await TestSocket.as(t, urlA, user), await TestSocket.as(t, urlB, user))

  const PER_SENDER = 25
  const work: Array<Promise<void>> = []
  // REST senders on both instances, 5 requests in flight each.
  for (const [i, app] of [a, b, a, b].entries()) {
    for (let lane = 0; lane < 5; lane++) {
      work.push((async () => {
        for (let n = lane; n < PER_SENDER; n += 5) await post(app, users[i]!, room, `rest ${i} ${n}`)
      })())
    }
  }
  // WebSocket senders: every socket sends its share at once (each socket's frames are handled in turn).
  for (const [i, socket] of sockets.entries()) {
    for (let n = 0; n < PER_SENDER; n++) socket.send({ type: 'message:send', payload: { room_id: room, content: `ws ${i} ${n}` } })
  }
  await Promise.all(work)
  const total = 4 * PER_SENDER + sockets.length * PER_SENDER
  await Promise.all(sockets.map(async socket => { await upTo(socket, room, total, base) }))
  for (const [i, socket] of sockets.entries()) {
    t.same(feedSeqs(socket, room, base), range(total), `socket ${i} (${i % 2 === 0 ? 'A' : 'B'}): seqs 1..${total} after the joins, once each, in order`)
  }
  t.equal(sockets[0]!.all(f => f.type === 'error').length, 0, 'no send was refused')
})

t.test('a frame whose publish never happened is read from the database when its successor arrives, on both instances', async t => {
  const { a, urlA, urlB, users, room, base } = await cluster(t, 2)
  const onA = await TestSocket.as(t, urlA, users[0]!)
  const onB = await TestSocket.as(t, urlB, users[1]!)
  await post(a, users[0]!, room, 'first')
  await Promise.all([upTo(onA, room, 1, base), upTo(onB, room, 1, base)])
  // Stored (seqs 2 and 3) without a publish: as if the sending instance had died after the commit.
  await seedMessages(a, room, users[0]!.id, 2, 'unpublished')
  await post(a, users[0]!, room, 'fourth')
  await Promise.all([upTo(onA, room, 4, base), upTo(onB, room, 4, base)])
  for (const socket of [onA, onB]) {
    t.same(feedSeqs(socket, room, base), [1, 2, 3, 4])
    t.same(socket.all(f => f.type === 'message:new').map(f => f.payload.content), ['first', 'unpublished 1', 'unpublished 2', 'fourth'], 'as they were stored')
  }
})

t.test('frames published while Redis was away reach the other instance\'s sockets once it is back, with no new message', async t => {
  const { redis, a, b, urlA, urlB, users, room, base } = await cluster(t, 2)
  const onA = await TestSocket.as(t, urlA, users[0]!)
  const onB = await TestSocket.as(t, urlB, users[1]!)
  await post(a, users[0]!, room, 'before')
  await Promise.all([upTo(onA, room, 1, base), upTo(onB, room, 1, base)])

  await redis.stop()
  await post(a, users[0]!, room, 'during (A) 1')
  await post(a, users[0]!, room, 'during (A) 2')
  await post(b, users[1]!, room, 'during (B)')
  await upTo(onA, room, 3, base)
  t.same(feedSeqs(onA, room, base), [1, 2, 3], 'A\'s own frames reach A\'s socket')
  await upTo(onB, room, 4, base)
  t.same(feedSeqs(onB, room, base), [1, 2, 3, 4], 'B read the gap (2, 3) from the database when its own 4 came')

  await redis.restart()
  // Nothing more is sent: A looks for what it missed once its subscription is back.
  await upTo(onA, room, 4, base)
  for (const socket of [onA, onB]) {
    t.same(socket.all(f => f.type === 'message:new').map(f => f.payload.content), ['before', 'during (A) 1', 'during (A) 2', 'during (B)'], 'each once, in order')
  }
})

t.test('frames an instance could not publish (its publisher cut off, every subscriber still up) reach the other instance once it publishes again', async t => {
  const { redis, b, urlA, urlB, users, room, base } = await cluster(t, 2)
  const onA = await TestSocket.as(t, urlA, users[0]!)
  const onB = await TestSocket.as(t, urlB, users[1]!)
  await post(b, users[1]!, room, 'before')
  await Promise.all([upTo(onA, room, 1, base), upTo(onB, room, 1, base)])

  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })
  // No new connection is let in, then both instances' publishers are cut off: they cannot come back
  // until the limit is lifted, while the subscribers (A's included) stay connected throughout.
  const clients = String(await admin.call('CLIENT', 'LIST')).trim().split('\n')
  const publishers = clients.filter(line => / name=chat-pub-/.test(line)).map(line => /\bid=(\d+)/.exec(line)![1]!)
  t.equal(publishers.length, 2, 'one publisher per instance')
  await admin.call('CONFIG', 'SET', 'maxclients', String(clients.length - publishers.length))
  for (const id of publishers) await admin.call('CLIENT', 'KILL', 'ID', id)
  await post(b, users[1]!, room, 'unpublished')
  await upTo(onB, room, 2, base)

  await admin.call('CONFIG', 'SET', 'maxclients', '10000')
  // Nothing more is sent: B's publisher, back, tells the others to look for what it could not send.
  await upTo(onA, room, 2, base)
  t.same(feedSeqs(onA, room, base), [1, 2])
  t.same(onA.all(f => f.type === 'message:new').map(f => f.payload.content), ['before', 'unpublished'])
})
