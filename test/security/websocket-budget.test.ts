import { connect } from 'node:net'
import t from 'tap'
import { ABUSE_REFUSALS } from '../../plugins/realtime/session.js'
import { build, createRoom, joinRoom, json, seedMessages, signUp } from '../helper.js'
import { type Frame, listen, refusedUpgrade, TestSocket } from '../ws-client.js'

/**
 * Issue 17, items 2, 3, 10 and 15: every WebSocket frame costs the sender budget; sockets are
 * capped per user and per address; ids past int32 are a 400, never a database error; a lone
 * surrogate does not break an idempotent retry; typing and presence use the current username.
 */

const isError = (f: Frame): boolean => f.type === 'error'

t.test('every frame costs budget: a burst of presence:get is refused past it, with retry_after', async t => {
  // 120 frames a minute: two a second, a burst of 12.
  const app = await build(t, { env: { RATE_LIMIT_WS_FRAMES: '120' } })
  const url = await listen(app)
  const alice = await signUp(app)
  const room = await createRoom(app, alice, 'budget')
  const socket = await TestSocket.as(t, url, alice)
  for (let i = 0; i < 30; i++) socket.send({ type: 'presence:get', payload: { room_id: room } })
  const { code } = await socket.closed
  const answered = socket.all(f => f.type === 'presence:list').length
  const limited = socket.all(f => isError(f) && f.payload.code === 'RATE_LIMITED')
  t.ok(answered >= 1 && answered <= 14, `at most the burst (and what refilled meanwhile) was answered: ${answered}`)
  t.equal(limited.length, ABUSE_REFUSALS, `the next ${ABUSE_REFUSALS} were refused`)
  t.ok(limited.every(f => Number.isInteger(f.payload.retry_after) && f.payload.retry_after >= 1), 'each refusal says when to retry')
  t.equal(code, 1008, 'and a socket that keeps going past the budget is closed (policy violation)')
})

t.test('a sync pays for the rooms it names and the rows it replays, before it replays them', async t => {
  // 120 frames a minute: two a second, a burst of 12; a room's replay reserves 10.
  const app = await build(t, { env: { RATE_LIMIT_WS_FRAMES: '120' } })
  const url = await listen(app)
  const alice = await signUp(app)
  const room = await createRoom(app, alice, 'many rows')
  await seedMessages(app, room, alice.id, 1000, 'row')
  const socket = await TestSocket.as(t, url, alice)
  // Opened before the budget is spent (a user who spent it is refused new sockets).
  const second = await TestSocket.as(t, url, alice)
  socket.send({ type: 'sync', payload: { rooms: { [room]: 0 } } })
  const done = await socket.next(f => f.type === 'sync:done')
  t.same(done.payload, { rooms: { [room]: 1000 } }, 'the first sync is served: 1,000 rows')
  second.send({ type: 'sync', payload: { rooms: { [room]: 0 } } })
  const refused = await second.next(isError)
  t.equal(refused.payload.code, 'RATE_LIMITED', 'the rows were paid for: another replay right away is refused, on any of the user\'s sockets')
  t.ok(refused.payload.retry_after >= 1, `until the budget refills (retry_after ${String(refused.payload.retry_after)} s)`)
  t.equal(second.all(f => f.type === 'message:new').length, 0, 'and nothing of it was sent')

  const bob = await signUp(app)
  const bobSocket = await TestSocket.as(t, url, bob)
  const rooms = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [String(1000 + i), 0]))
  bobSocket.send({ type: 'sync', payload: { rooms } })
  const tooMany = await bobSocket.next(isError)
  t.equal(tooMany.payload.code, 'RATE_LIMITED', 'a sync naming 200 rooms costs more than the whole burst')
  t.equal(bobSocket.all(f => f.type === 'sync:done').length, 0, 'and nothing of it was done')
})

t.test('queued frames of a socket that closed are dropped, not run', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await signUp(app)
  const room = await createRoom(app, alice, 'dropped')
  await seedMessages(app, room, alice.id, 1000, 'old')
  const socket = await TestSocket.as(t, url, alice)
  // The sync reads and sends 1,000 rows; the sends queue behind it, and the socket goes away meanwhile.
  socket.send({ type: 'sync', payload: { rooms: { [room]: 0 } } })
  for (let i = 0; i < 20; i++) socket.send({ type: 'message:send', payload: { room_id: room, content: `queued ${i}` } })
  socket.ws.terminate()
  await new Promise(resolve => setTimeout(resolve, 1000))
  const page = await app.inject({ url: `/api/v1/rooms/${room}/messages?limit=50`, headers: alice.auth })
  t.equal(json<Array<{ content: string }>>(page).filter(m => m.content.startsWith('queued')).length, 0, 'none of the queued sends ran')
})

t.test('a re-join that changes nothing publishes nothing', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await signUp(app)
  const bob = await signUp(app)
  const room = await createRoom(app, alice, 'rejoin')
  await joinRoom(app, bob, room)
  const watcher = await TestSocket.as(t, url, alice)
  const rejoiner = await TestSocket.as(t, url, bob)
  await watcher.next(f => f.type === 'presence' && f.payload.user_id === bob.id, 'bob coming online')
  for (let i = 0; i < 10; i++) rejoiner.send({ type: 'room:join', payload: { room_id: room } })
  for (let i = 0; i < 10; i++) await rejoiner.next(f => f.type === 'room:joined')
  await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: bob.auth })
  await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: 'barrier' } })
  await watcher.message('barrier')
  t.equal(watcher.all(f => f.type === 'presence').length, 1, 'the other members got no presence frame from the re-joins')
})

t.test('sockets are capped per user and per address', async t => {
  const app = await build(t, { env: { WS_MAX_SOCKETS_PER_USER: '3', WS_MAX_SOCKETS_PER_ADDRESS: '4' } })
  const url = await listen(app)
  const alice = await signUp(app)
  const bob = await signUp(app)
  const mine = [await TestSocket.as(t, url, alice), await TestSocket.as(t, url, alice), await TestSocket.as(t, url, alice)]
  const fourth = await TestSocket.as(t, url, alice)
  t.same(await fourth.closed, { code: 1013, reason: 'Too many sockets open for this user' }, 'the user\'s fourth socket is closed with 1013')
  t.ok(mine.every(s => s.ws.readyState === s.ws.OPEN), 'the first three stay open')
  await TestSocket.as(t, url, bob)
  const fifth = await TestSocket.as(t, url, bob)
  t.same(await fifth.closed, { code: 1013, reason: 'Too many sockets open from this address' }, 'the address\'s fifth socket is closed with 1013')
  mine[0]!.ws.close()
  await mine[0]!.closed
  const again = await TestSocket.as(t, url, bob)
  await new Promise(resolve => setTimeout(resolve, 200))
  t.equal(again.ws.readyState, again.ws.OPEN, 'once one closes, another may open')
})

t.test('a user who spent the frame budget is refused a new socket (429) until a unit is back', async t => {
  // 120 frames a minute: two a second, a burst of 12.
  const app = await build(t, { env: { RATE_LIMIT_WS_FRAMES: '120' } })
  const url = await listen(app)
  const alice = await signUp(app)
  const room = await createRoom(app, alice, 'reconnecting')
  const socket = await TestSocket.as(t, url, alice)
  for (let i = 0; i < 12; i++) socket.send({ type: 'presence:get', payload: { room_id: room } })
  for (let i = 0; i < 12; i++) await socket.next(f => f.type === 'presence:list')
  // The budget is empty now and refills a unit in 0.5 s: the upgrade comes well within that.
  const refused = await refusedUpgrade(`${url}?token=${alice.token}`)
  t.equal(refused.status, 429, 'the upgrade is refused before any socket opens')
  t.equal(JSON.parse(refused.body).code, 'RATE_LIMITED')
  const bob = await signUp(app)
  await TestSocket.as(t, url, bob)
  t.pass('another user opens one meanwhile')
  await new Promise(resolve => setTimeout(resolve, 1100))
  const again = await TestSocket.as(t, url, alice)
  again.send({ type: 'presence:get', payload: { room_id: room } })
  await again.next(f => f.type === 'presence:list')
  t.pass('once a unit is back, the user opens a socket again')
})

t.test('an upgrade past the socket cap costs a unit of the frame budget', async t => {
  // 120 frames a minute: two a second, a burst of 12.
  const app = await build(t, { env: { RATE_LIMIT_WS_FRAMES: '120', WS_MAX_SOCKETS_PER_USER: '1' } })
  const url = await listen(app)
  const alice = await signUp(app)
  const room = await createRoom(app, alice, 'over the cap')
  const socket = await TestSocket.as(t, url, alice)
  const extra = await Promise.all(Array.from({ length: 12 }, async () => await TestSocket.as(t, url, alice)))
  for (const s of extra) t.same(await s.closed, { code: 1013, reason: 'Too many sockets open for this user' })
  socket.send({ type: 'presence:get', payload: { room_id: room } })
  const refused = await socket.next(f => f.type === 'error' || f.type === 'presence:list')
  t.equal(refused.type === 'error' && refused.payload.code, 'RATE_LIMITED', 'the twelve refused upgrades spent the burst: the open socket\'s next frame waits')
})

t.test('upgrades that never complete give their place under the socket cap back', async t => {
  const app = await build(t, { env: { WS_MAX_SOCKETS_PER_USER: '2' } })
  const url = await listen(app)
  const { port } = new URL(url)
  const alice = await signUp(app)
  // Twenty upgrades whose client goes away: at once, or after a few milliseconds (while the server authenticates and reads the rooms).
  await Promise.all(Array.from({ length: 20 }, async (_, i) => await new Promise<void>(resolve => {
    const raw = connect(Number(port), '127.0.0.1', () => {
      raw.write(`GET /ws?token=${alice.token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
      setTimeout(() => raw.destroy(), i % 5)
    })
    raw.on('error', () => {})
    raw.on('close', () => resolve())
  })))
  await new Promise(resolve => setTimeout(resolve, 300))
  const mine = [await TestSocket.as(t, url, alice), await TestSocket.as(t, url, alice)]
  await new Promise(resolve => setTimeout(resolve, 200))
  t.ok(mine.every(s => s.ws.readyState === s.ws.OPEN), 'the user\'s two sockets open: no place was kept by an upgrade that went away')
  const third = await TestSocket.as(t, url, alice)
  t.same(await third.closed, { code: 1013, reason: 'Too many sockets open for this user' }, 'and the cap still holds')
})

t.test('ids past int32 in sync and since are a 400 naming them, never a database error', async t => {
  const lines: string[] = []
  const app = await build(t, { logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } } } })
  const url = await listen(app)
  const alice = await signUp(app)
  const socket = await TestSocket.as(t, url, alice)
  for (const key of ['2147483648', '9999999999', '4294967296']) {
    socket.send({ type: 'sync', payload: { rooms: { [key]: 0 } } })
    const refused = await socket.next(isError)
    t.match(refused.payload, { code: 'VALIDATION_ERROR', error: `rooms has an unknown field "${key}"` }, `sync ${key}: 400, named`)
  }
  const since = await app.inject({ url: '/ws?since=2147483648:0', headers: alice.auth })
  t.equal(since.statusCode, 400, '?since= with a room id past int32: 400')
  t.match(json(since), { code: 'VALIDATION_ERROR', error: /^since: rooms has an unknown field "2147483648"/ })
  const errors = lines.map(line => JSON.parse(line) as { level: number }).filter(entry => entry.level >= 50)
  t.same(errors, [], 'nothing was logged at error level')
})

t.test('a client_msg_id retry whose content has a lone surrogate is the same send', async t => {
  const app = await build(t)
  const alice = await signUp(app)
  const room = await createRoom(app, alice, 'surrogates')
  const payload = { room_id: room, content: 'half a pair: \ud83d', client_msg_id: 'lone-\udc00' }
  const first = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload })
  t.equal(first.statusCode, 201)
  t.equal(json(first).content, 'half a pair: \ufffd', 'stored with U+FFFD in place of the lone surrogate')
  const retry = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload })
  t.equal(retry.statusCode, 200, 'the retry is recognised (200), not a 409')
  t.equal(json(retry).id, json(first).id)
})

t.test('typing and presence name the user as they are called now', async t => {
  const app = await build(t, { env: { AUTH_CACHE_SECONDS: '0' } })
  const url = await listen(app)
  const password = 'correct horse battery staple'
  const alice = await signUp(app, { password, username: 'alice-before' })
  const bob = await signUp(app)
  const room = await createRoom(app, alice, 'names')
  await joinRoom(app, bob, room)
  const aliceSocket = await TestSocket.as(t, url, alice)
  const bobSocket = await TestSocket.as(t, url, bob)
  const renamed = await app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: alice.auth, payload: { current_password: password, username: 'alice-after' } })
  t.equal(renamed.statusCode, 200)
  aliceSocket.send({ type: 'typing', payload: { room_id: room } })
  const typing = await bobSocket.next(f => f.type === 'typing')
  t.equal(typing.payload.username, 'alice-after', 'typing carries the new name')
  aliceSocket.ws.close()
  const offline = await bobSocket.next(f => f.type === 'presence' && f.payload.status === 'offline')
  t.equal(offline.payload.username, 'alice-after', 'and so does the offline presence')
})

t.test('an upgrade refused before it reached the WebSocket plugin (the global limit) leaves no connection open', async t => {
  const app = await build(t, { env: { RATE_LIMIT_GLOBAL: '3' } })
  const url = await listen(app)
  const statuses: number[] = []
  // Anonymous (a token that does not verify): counted per address, refused before any route hook.
  for (let i = 0; i < 6; i++) statuses.push((await refusedUpgrade(url, { headers: { authorization: 'Bearer not-a-token' } })).status)
  t.ok(statuses.filter(s => s === 429).length >= 3, `refused with 429 past the limit: ${statuses.join(', ')}`)
  let open = -1
  for (let i = 0; i < 50 && open !== 0; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    open = await new Promise<number>(resolve => app.server.getConnections((_err, n) => resolve(n)))
  }
  t.equal(open, 0, 'every refused upgrade\'s connection was closed')
})
