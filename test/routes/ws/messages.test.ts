import t from 'tap'
import { build, createRoom, fixtureUser, joinRoom } from '../../helper.js'
import { type Frame, listen, TestSocket } from '../../ws-client.js'

const isNew = (f: Frame): boolean => f.type === 'message:new'

t.test('the seed README\'s frames work as written', async t => {
  const app = await build(t)
  const url = await listen(app)
  const john = await fixtureUser(app, { username: 'johndoe' })
  const jane = await fixtureUser(app)
  const roomId = await createRoom(app, john, 'general')
  t.equal(roomId, 1, 'the seed examples name room 1: the first room of a fresh database')

  // Exactly the seed's "Connection" example: ws://host/ws?token=...
  const johnSocket = await TestSocket.open(t, url, { token: john.token })
  const janeSocket = await TestSocket.open(t, url, { token: jane.token })

  // "Join Room", byte for byte.
  janeSocket.send(`{
  "type": "room:join",
  "payload": {
    "room_id": 1
  }
}`)
  t.same(await janeSocket.next(f => f.type === 'room:joined'), { type: 'room:joined', payload: { room_id: 1 } }, 'the join is acknowledged')
  t.match(await janeSocket.next(f => f.type === 'member:joined'), { type: 'member:joined', payload: { seq: 1, room_id: 1, user: { id: jane.id }, role: 'member' } }, 'the room\'s feed: jane joined (her socket listens from that frame on)')

  // "Send Message", byte for byte.
  johnSocket.send(`{
  "type": "message:send",
  "payload": {
    "room_id": 1,
    "content": "Hello from WebSocket!"
  }
}`)

  for (const socket of [johnSocket, janeSocket]) {
    const frame = await socket.next(isNew, 'message:new')
    // "Receive Message": the same fields, the same types.
    t.same(Object.keys(frame).sort(), ['payload', 'type'])
    t.equal(frame.type, 'message:new')
    t.match(frame.payload, { id: Number, room_id: 1, user_id: john.id, username: 'johndoe', content: 'Hello from WebSocket!', created_at: String })
    t.ok(frame.payload.id >= 1)
    t.match(frame.payload.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'created_at is ISO 8601 in UTC, as in the seed')
  }

  const history = await app.inject({ method: 'GET', url: '/api/v1/rooms/1/messages', headers: jane.auth })
  t.equal(history.json()[0].content, 'Hello from WebSocket!', 'the message was stored (REST history shows it)')
})

t.test('message:send reaches every socket of every member, the sender\'s own included, and no one else', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const eve = await fixtureUser(app)
  const room = await createRoom(app, alice, 'members')
  await joinRoom(app, bob, room)
  const eveRoom = await createRoom(app, eve, 'eve only')

  const alice1 = await TestSocket.as(t, url, alice)
  const alice2 = await TestSocket.as(t, url, alice)
  const bob1 = await TestSocket.as(t, url, bob)
  const eve1 = await TestSocket.as(t, url, eve)

  alice1.send({ type: 'message:send', payload: { room_id: room, content: '  hi team  ' } })
  const frames = await Promise.all([alice1, alice2, bob1].map(async s => await s.message('hi team')))
  t.equal(new Set(frames.map(f => f.payload.id)).size, 1, 'one message, the same id everywhere')
  t.equal(frames[0]!.payload.content, 'hi team', 'content is trimmed, as over REST')

  // A barrier for eve: a message in her own room, sent after. Delivery follows commit order,
  // so once it arrives, anything from the members' room would have arrived before it.
  await app.inject({ method: 'POST', url: '/api/v1/messages', headers: eve.auth, payload: { room_id: eveRoom, content: 'barrier' } })
  await eve1.message('barrier')
  t.same(eve1.all(f => f.type === 'message:new' && f.payload.room_id === room), [], 'a non-member socket got nothing from the room')
  t.same(alice1.all(f => f.payload?.content === 'barrier'), [], 'and members got nothing from a room they are not in')

  eve1.send({ type: 'message:send', payload: { room_id: room, content: 'let me in' } })
  const refused = await eve1.error()
  t.same(refused.payload, { error: 'You are not a member of this room', code: 'NOT_A_MEMBER' })
})

t.test('a message sent over REST is pushed to the sockets', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const room = await createRoom(app, alice, 'rest')
  await joinRoom(app, bob, room)
  const bob1 = await TestSocket.as(t, url, bob)
  const alice1 = await TestSocket.as(t, url, alice)

  const sent = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: 'over REST' } })
  t.equal(sent.statusCode, 201)
  const [toBob, toAlice] = await Promise.all([bob1.message('over REST'), alice1.message('over REST')])
  t.same(toBob.payload, sent.json(), 'the socket gets exactly what the REST response returned')
  t.same(toAlice.payload, sent.json())
})

t.test('room:join joins the room, subscribes the socket and the user\'s other sockets', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const room = await createRoom(app, alice, 'join me')
  const bob1 = await TestSocket.as(t, url, bob)
  const bob2 = await TestSocket.as(t, url, bob)

  bob1.send({ type: 'room:join', payload: { room_id: room } })
  // The reply and the feed frame of the join come in either order (the frame passes the room's sequencer).
  const joined = { type: 'member:joined', payload: { seq: 1, room_id: room, user: { id: bob.id, username: bob.username }, role: 'member' } }
  t.same(await bob1.next(f => f.type === 'member:joined'), joined, 'the feed frame of the join, to every member socket')
  t.same(await bob2.next(f => f.type === 'member:joined'), joined, 'bob\'s other socket listens too')
  t.same(await bob1.next(f => f.type !== 'member:joined'), { type: 'room:joined', payload: { room_id: room } })
  t.same(await bob1.next(), { type: 'presence:list', payload: { room_id: room, user_ids: [bob.id] } }, 'then who in the room is online')

  const rooms = await app.inject({ method: 'GET', url: '/api/v1/rooms', headers: bob.auth })
  t.equal(rooms.json().find((r: { id: number }) => r.id === room).member_count, 2, 'bob is a member now (as the REST join)')

  await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: 'welcome bob' } })
  await bob1.message('welcome bob')
  await bob2.message('welcome bob')
  t.pass('both of bob\'s sockets receive the room\'s messages')

  bob1.send({ type: 'room:join', payload: { room_id: room } })
  t.same(await bob1.next(), { type: 'room:joined', payload: { room_id: room } }, 'joining twice is harmless')
  t.equal((await bob1.next()).type, 'presence:list')
  bob2.send({ type: 'message:send', payload: { room_id: room, content: 'thanks' } })
  await bob1.message('thanks')
  t.equal(bob1.all(f => f.payload?.content === 'welcome bob').length, 1, 'a second join does not duplicate delivery')

  bob1.send({ type: 'room:join', payload: { room_id: 999999 } })
  t.same((await bob1.error()).payload, { error: 'Room not found', code: 'ROOM_NOT_FOUND' })
})

t.test('refused frames get an error frame and the socket stays open', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const room = await createRoom(app, alice, 'errors')
  const socket = await TestSocket.as(t, url, alice)

  const cases: Array<[string, unknown, { error: string | RegExp, code: string }]> = [
    ['not JSON', 'hello?', { error: 'frame is not valid JSON', code: 'INVALID_JSON' }],
    ['a JSON array', '[1,2]', { error: /JSON object/, code: 'INVALID_FRAME' }],
    ['no type', { payload: {} }, { error: /JSON object/, code: 'INVALID_FRAME' }],
    ['unknown type', { type: 'message:delete', payload: {} }, { error: /unknown frame type "message:delete"/, code: 'UNKNOWN_TYPE' }],
    ['prototype key as type', { type: '__proto__', payload: {} }, { error: /unknown frame type/, code: 'UNKNOWN_TYPE' }],
    ['no payload', { type: 'message:send' }, { error: 'payload must be an object', code: 'VALIDATION_ERROR' }],
    ['room_id missing', { type: 'message:send', payload: { content: 'x' } }, { error: 'room_id is required', code: 'VALIDATION_ERROR' }],
    ['room_id not an integer', { type: 'message:send', payload: { room_id: 'one', content: 'x' } }, { error: 'room_id must be an integer', code: 'VALIDATION_ERROR' }],
    ['room_id zero', { type: 'room:join', payload: { room_id: 0 } }, { error: 'room_id must be a positive integer', code: 'VALIDATION_ERROR' }],
    ['empty content', { type: 'message:send', payload: { room_id: room, content: '' } }, { error: 'content must not be empty', code: 'VALIDATION_ERROR' }],
    ['blank content', { type: 'message:send', payload: { room_id: room, content: '   ' } }, { error: 'content must not be empty', code: 'VALIDATION_ERROR' }],
    ['content too long', { type: 'message:send', payload: { room_id: room, content: 'x'.repeat(4001) } }, { error: 'content must be at most 4000 characters', code: 'VALIDATION_ERROR' }],
    ['NUL in content', { type: 'message:send', payload: { room_id: room, content: 'a\u0000b' } }, { error: 'content must not contain NUL characters', code: 'VALIDATION_ERROR' }],
    ['unknown room', { type: 'message:send', payload: { room_id: 424242, content: 'x' } }, { error: 'Room not found', code: 'ROOM_NOT_FOUND' }]
  ]
  for (const [name, frame, expected] of cases) {
    socket.send(frame)
    const error = await socket.error()
    t.match(error.payload, expected, name)
    t.equal(socket.ws.readyState, socket.ws.OPEN, `${name}: the socket is still open`)
  }

  socket.ws.send(Buffer.from('{"type":"room:join","payload":{"room_id":1}}'), { binary: true })
  t.match((await socket.error()).payload, { code: 'INVALID_FRAME' }, 'a binary frame is refused')

  // Fields a payload's schema doesn't name are ignored, as in a REST body (one input contract).
  socket.send({ type: 'room:join', payload: { room_id: room, role: 'admin' } })
  t.same(await socket.next(f => f.type === 'room:joined' || f.type === 'error'), { type: 'room:joined', payload: { room_id: room } }, 'an unknown field is ignored')
  socket.send({ type: 'message:send', payload: { room_id: room, content: 'still here' }, id: 'ignored top-level field' })
  const frame = await socket.message('still here')
  t.equal(frame.payload.room_id, room, 'after all that, a good frame still works')
  t.equal(socket.all(isNew).length, 1, 'no refused frame stored anything')
})

t.test('frames from one socket are handled in the order they were sent', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const room = await createRoom(app, alice, 'order')
  const socket = await TestSocket.as(t, url, alice)
  const watcher = await TestSocket.as(t, url, alice)
  const count = 60
  // Sent back to back: the sends after the first wait in the room's queue together (a socket's
  // next frame does not wait for its send's statement), and a refused one in the middle is only its own.
  for (let i = 0; i < count; i++) {
    socket.send({ type: 'message:send', payload: { room_id: room, content: `n${i}` } })
    if (i === count / 2) socket.send({ type: 'message:send', payload: { room_id: 424242, content: 'nowhere' } })
  }
  await watcher.message(`n${count - 1}`)
  const contents = watcher.all(isNew).map(f => f.payload.content)
  t.same(contents, Array.from({ length: count }, (_, i) => `n${i}`))
  const ids = watcher.all(isNew).map(f => f.payload.id as number)
  t.same(ids, [...ids].sort((a, b) => a - b), 'ids increase in that order')
  const seqs = watcher.all(isNew).map(f => f.payload.seq as number)
  t.same(seqs, Array.from({ length: count }, (_, i) => seqs[0]! + i), 'and so do their seqs, without a gap')
  t.match((await socket.error()).payload, { code: 'ROOM_NOT_FOUND' }, 'the refused send got its error frame')
  t.equal(socket.all(f => f.payload?.content === 'nowhere').length, 0, 'and stored nothing')
})

t.test('the message-send rate limit is shared by REST and WebSocket, and answered with an error frame', async t => {
  const app = await build(t, { env: { RATE_LIMIT_MESSAGES: '3' } })
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const room = await createRoom(app, alice, 'limited')
  const socket = await TestSocket.as(t, url, alice)

  for (let i = 0; i < 2; i++) {
    const r = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: `rest ${i}` } })
    t.equal(r.statusCode, 201)
  }
  socket.send({ type: 'message:send', payload: { room_id: room, content: 'third' } })
  await socket.message('third')
  socket.send({ type: 'message:send', payload: { room_id: room, content: 'fourth' } })
  const error = await socket.error()
  t.match(error.payload, { code: 'RATE_LIMITED', error: /Too many messages/, retry_after: Number })
  t.ok(error.payload.retry_after >= 1)
  t.equal(socket.ws.readyState, socket.ws.OPEN, 'still open')
  const rest = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: 'fifth' } })
  t.equal(rest.statusCode, 429, 'REST counts the WebSocket sends too')
  t.equal(socket.all(f => f.payload?.content === 'fourth').length, 0, 'the refused message was not stored or sent')
})

t.test('joining or creating a room over REST subscribes the user\'s open sockets', async t => {
  const app = await build(t)
  const url = await listen(app)
  const owner = await fixtureUser(app)
  const joiner = await fixtureUser(app)
  const ownerSocket = await TestSocket.as(t, url, owner)
  const joinerSocket = await TestSocket.as(t, url, joiner)

  // Created after the owner's socket connected: the creator's socket must still hear the room.
  const roomId = await createRoom(app, owner, 'late room')
  await joinRoom(app, joiner, roomId)

  const sent = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: joiner.auth, payload: { room_id: roomId, content: 'after a REST join' } })
  t.equal(sent.statusCode, 201)
  for (const [name, socket] of [['owner', ownerSocket], ['joiner', joinerSocket]] as const) {
    const frame = await socket.next(isNew, `message:new on the ${name}'s socket`)
    t.match(frame.payload, { room_id: roomId, content: 'after a REST join' }, `the ${name}'s socket got the message`)
  }
})
