import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, createRoom, fixtureUser, joinRoom, sendAs, type Session } from '../helper.js'
import { type Frame, listen, PrivateRedis, TestSocket, twoInstances } from '../ws-client.js'

// The room feed (CONTRACT.md Part 2): every change is numbered, replayed by `sync` and served by
// GET /rooms/{id}/events the same way; read state and unread counts; leaving.

async function call (app: FastifyInstance, user: Session, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object): Promise<{ statusCode: number, body: any }> {
  const response = await app.inject({ method, url, headers: user.auth, ...(payload === undefined ? {} : { payload }) })
  return { statusCode: response.statusCode, body: response.body === '' ? undefined : response.json() }
}

const feedOf = (roomId: number) => (f: Frame): boolean => f.payload?.room_id === roomId && typeof f.payload?.seq === 'number'

t.test('one feed per room: live, replayed by sync, and over HTTP, the same frames in the same order', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const mallory = await fixtureUser(app)
  const room = await createRoom(app, alice, 'the feed')
  const live = await TestSocket.as(t, url, alice)

  await joinRoom(app, bob, room) // 1 member:joined
  const first = await sendAs(app, alice, room, 'first') // 2
  const second = await sendAs(app, bob, room, 'second secret') // 3
  await call(app, alice, 'PATCH', `/api/v1/messages/${first.id}`, { content: 'first, edited' }) // 4
  await call(app, bob, 'PUT', `/api/v1/messages/${first.id}/reactions/${encodeURIComponent('🎉')}`) // 5
  await call(app, bob, 'DELETE', `/api/v1/messages/${second.id}`) // 6
  await call(app, alice, 'PATCH', `/api/v1/messages/${first.id}`, { content: 'first, edited twice' }) // 7
  await live.next(f => f.payload?.seq === 7 && f.payload?.room_id === room, 'the 7th frame')

  const liveFeed = live.all(feedOf(room))
  t.same(liveFeed.map(f => [f.payload.seq, f.type]), [
    [1, 'member:joined'], [2, 'message:new'], [3, 'message:new'], [4, 'message:updated'], [5, 'reaction:added'], [6, 'message:deleted'], [7, 'message:updated']
  ], 'live: every change once, in seq order')

  const events = await call(app, alice, 'GET', `/api/v1/rooms/${room}/events?after=0`)
  t.equal(events.statusCode, 200)
  t.same(events.body.map((f: Frame) => [f.payload.seq, f.type]), liveFeed.map(f => [f.payload.seq, f.type]), 'GET /events: the same frames')
  const byType = (type: string, seq: number): any => events.body.find((f: Frame) => f.type === type && f.payload.seq === seq).payload
  t.match(byType('message:new', 2), { id: first.id, content: 'first, edited twice', reactions: [{ emoji: '🎉', count: 1, me: false }] }, 'a replayed message shows its current state')
  t.match(byType('message:new', 3), { id: second.id, content: '', reactions: [] }, 'a deleted one its tombstone')
  t.ok(byType('message:new', 3).deleted_at !== null)
  t.notMatch(JSON.stringify(events.body), /second secret/, 'the deleted text is never sent again')
  t.match(byType('message:updated', 4), { message_id: first.id, content: 'first, edited twice' }, 'an edit replays with the content now')
  t.same(byType('member:joined', 1), { seq: 1, room_id: room, user: { id: bob.id, username: bob.username }, role: 'member' })
  t.same(byType('reaction:added', 5), { seq: 5, room_id: room, message_id: first.id, user_id: bob.id, emoji: '🎉', count: 1 })
  t.same(live.all(f => f.type === 'reaction:added')[0]?.payload, byType('reaction:added', 5), 'as it was sent live')

  const page = await call(app, alice, 'GET', `/api/v1/rooms/${room}/events?after=2&limit=2`)
  t.same(page.body.map((f: Frame) => f.payload.seq), [3, 4], 'after and limit')
  t.same((await call(app, alice, 'GET', `/api/v1/rooms/${room}/events?after=7`)).body, [], 'nothing after the last')
  t.match(await call(app, mallory, 'GET', `/api/v1/rooms/${room}/events`), { statusCode: 403, body: { code: 'NOT_A_MEMBER' } })
  t.match(await call(app, alice, 'GET', `/api/v1/rooms/${room}/events?limit=1001`), { statusCode: 400 })
  t.match(await call(app, alice, 'GET', '/api/v1/rooms/424242/events'), { statusCode: 404 })

  const resumed = await TestSocket.as(t, url, alice)
  resumed.send({ type: 'sync', payload: { rooms: { [room]: 1 } } })
  t.same((await resumed.next(f => f.type === 'sync:done')).payload, { rooms: { [room]: 7 } })
  const replayed = resumed.all(feedOf(room))
  t.same(replayed, events.body.slice(1), 'sync replays exactly what GET /events serves (for the same reader)')

  const since = await TestSocket.as(t, url, alice)
  since.send({ type: 'sync', payload: { rooms: { [room]: 5 } } })
  await since.next(f => f.type === 'sync:done')
  t.same(since.all(feedOf(room)).map(f => f.payload.seq), [6, 7], 'from any seq')
})

t.test('read state and unread counts', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const quiet = await createRoom(app, alice, 'quiet')
  const busy = await createRoom(app, bob, 'busy')
  await joinRoom(app, alice, busy) // busy: seq 1
  const other = await TestSocket.as(t, url, alice)

  const rooms = async (user: Session): Promise<any[]> => (await call(app, user, 'GET', '/api/v1/users/me/rooms')).body
  const unread = async (user: Session, roomId: number): Promise<number> => (await rooms(user)).find(r => r.id === roomId).unread_count

  t.equal(await unread(alice, busy), 0, 'what was said before joining is not unread')
  const sent = []
  for (const content of ['one', 'two', 'three']) sent.push(await sendAs(app, bob, busy, content))
  const mine = await rooms(alice)
  t.same(mine.map(r => r.id), [busy, quiet], 'most recent activity first')
  t.match(mine[0], { id: busy, name: 'busy', role: 'member', unread_count: 3, last_message: { id: sent[2]!.id, content: 'three' } })
  t.match(mine[1], { id: quiet, role: 'owner', unread_count: 0, last_message: null })
  t.equal(await unread(bob, busy), 0, 'your own messages are never unread')

  const read = await call(app, alice, 'POST', `/api/v1/rooms/${busy}/read`, { seq: sent[1]!.seq })
  t.same(read, { statusCode: 200, body: { room_id: busy, last_read_seq: sent[1]!.seq, unread_count: 1 } })
  t.same((await other.next(f => f.type === 'read', 'read')).payload, read.body, 'your sockets get read with the same payload')
  t.same((await call(app, alice, 'POST', `/api/v1/rooms/${busy}/read`, { seq: 1 })).body.last_read_seq, sent[1]!.seq, 'a lower seq changes nothing')
  t.same((await call(app, alice, 'POST', `/api/v1/rooms/${busy}/read`, { seq: 999999 })).body, { room_id: busy, last_read_seq: sent[2]!.seq, unread_count: 0 }, 'past the end: the last seq')

  const four = await sendAs(app, bob, busy, 'four')
  await sendAs(app, bob, busy, 'five')
  t.equal(await unread(alice, busy), 2)
  await call(app, bob, 'DELETE', `/api/v1/messages/${four.id}`)
  t.equal(await unread(alice, busy), 1, 'a deleted unread message no longer counts')
  t.match((await rooms(alice))[0].last_message, { content: 'five' })
  await call(app, bob, 'DELETE', `/api/v1/messages/${four.id + 1}`)
  t.match((await rooms(alice))[0].last_message, { content: 'three' }, 'the last message is the newest one not deleted')

  const mallory = await fixtureUser(app)
  t.match(await call(app, mallory, 'POST', `/api/v1/rooms/${busy}/read`, { seq: 1 }), { statusCode: 403, body: { code: 'NOT_A_MEMBER' } })
  t.match(await call(app, alice, 'POST', '/api/v1/rooms/424242/read', { seq: 1 }), { statusCode: 404 })
  t.match(await call(app, alice, 'POST', `/api/v1/rooms/${busy}/read`, { seq: -1 }), { statusCode: 400 })
  t.match(await call(app, alice, 'POST', `/api/v1/rooms/${busy}/read`, {}), { statusCode: 400 })
  const paged = await call(app, alice, 'GET', '/api/v1/users/me/rooms?limit=1&offset=1')
  t.same(paged.body.map((r: { id: number }) => r.id), [quiet], 'limit and offset')
})

t.test('leaving: member:left to the room, room:removed to the leaver, nothing after it; an owner hands over', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const carol = await fixtureUser(app)
  const room = await createRoom(app, alice, 'leaving')
  await joinRoom(app, bob, room)
  await joinRoom(app, carol, room)
  const aliceSocket = await TestSocket.as(t, url, alice)
  const bobSocket = await TestSocket.as(t, url, bob)

  t.equal((await call(app, bob, 'POST', `/api/v1/rooms/${room}/leave`)).statusCode, 204)
  t.match((await aliceSocket.next(f => f.type === 'member:left')).payload, { room_id: room, user_id: bob.id, reason: 'left' })
  t.same((await bobSocket.next(f => f.type === 'room:removed')).payload, { room_id: room, reason: 'left' })
  await sendAs(app, alice, room, 'after bob left')
  await aliceSocket.message('after bob left')
  bobSocket.send({ type: 'sync', payload: { rooms: { [room]: 0 } } })
  t.match((await bobSocket.error()).payload, { code: 'NOT_A_MEMBER', room_id: room }, 'sync for the room: refused')
  await bobSocket.next(f => f.type === 'sync:done')
  t.same(bobSocket.all(f => f.payload?.room_id === room && f.type !== 'room:removed' && f.type !== 'error').filter(f => f.payload.seq > 2), [], 'nothing of the room after his leave')
  t.match(await call(app, bob, 'POST', `/api/v1/rooms/${room}/leave`), { statusCode: 403, body: { code: 'NOT_A_MEMBER' } }, 'leaving twice: 403')

  t.equal((await call(app, alice, 'POST', `/api/v1/rooms/${room}/leave`)).statusCode, 204, 'the owner leaves')
  const mine = (await call(app, carol, 'GET', '/api/v1/users/me/rooms')).body
  t.equal(mine.find((r: { id: number }) => r.id === room).role, 'owner', 'the member who has been there longest owns it now')
  const feed = (await call(app, carol, 'GET', `/api/v1/rooms/${room}/events`)).body as Frame[]
  t.same(feed.slice(-2).map(f => [f.type, f.payload.user_id, f.payload.reason ?? f.payload.role]), [['member:left', alice.id, 'left'], ['member:updated', carol.id, 'owner']])

  t.equal((await call(app, bob, 'POST', `/api/v1/rooms/${room}/join`)).statusCode, 200, 'bob comes back')
  t.match((await call(app, bob, 'GET', '/api/v1/users/me/rooms')).body[0], { id: room, role: 'member', unread_count: 0 }, 'rejoining starts at the join')
})

t.test('on two instances: read reaches your sockets on the other one; a leave stops the room there at its seq', async t => {
  const redis = await PrivateRedis.start(t)
  const { a, b, urlB } = await twoInstances(t, redis.url)
  const alice = await fixtureUser(a)
  const bob = await fixtureUser(a)
  const room = await createRoom(a, alice, 'two instances')
  await joinRoom(a, bob, room)
  const aliceOnB = await TestSocket.as(t, urlB, alice)
  const bobOnB = await TestSocket.as(t, urlB, bob)
  const sent = await sendAs(a, bob, room, 'hello from A')
  await aliceOnB.message('hello from A')

  const read = await call(a, alice, 'POST', `/api/v1/rooms/${room}/read`, { seq: sent.seq })
  t.same((await aliceOnB.next(f => f.type === 'read', 'read on B')).payload, read.body, 'marked on A, cleared on B')
  t.same(bobOnB.all(f => f.type === 'read'), [], 'nobody else gets it')

  await call(a, bob, 'POST', `/api/v1/rooms/${room}/leave`)
  t.same((await bobOnB.next(f => f.type === 'room:removed', 'room:removed on B')).payload, { room_id: room, reason: 'left' })
  const left = await aliceOnB.next(f => f.type === 'member:left', 'member:left on B')
  await sendAs(a, alice, room, 'after the leave')
  await aliceOnB.message('after the leave')
  t.same(bobOnB.all(f => f.payload?.room_id === room && (f.payload?.seq ?? 0) >= left.payload.seq), [], 'bob\'s socket on B got nothing of the room from his leave on')
  t.same((await call(b, alice, 'GET', `/api/v1/rooms/${room}/events?after=${sent.seq}`)).body.map((f: Frame) => f.type), ['member:left', 'message:new'], 'B serves the same feed: the leave, then the message (a read takes no seq)')
})
