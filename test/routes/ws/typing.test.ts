import t from 'tap'
import { Throttle } from '../../../plugins/realtime/throttle.js'
import { TYPING_INTERVAL_MS } from '../../../src/schemas/realtime.js'
import { build, createRoom, fixtureUser } from '../../helper.js'
import { type Frame, listen, TestSocket } from '../../ws-client.js'

const isTyping = (f: Frame): boolean => f.type === 'typing'

t.test('typing goes to the other members\' sockets only, is checked like a send, and is never stored', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app, { username: 'alice' })
  const bob = await fixtureUser(app)
  const carol = await fixtureUser(app)
  const room = await createRoom(app, alice, 'typing')
  await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: bob.auth })
  const elsewhere = await createRoom(app, carol, 'elsewhere')

  const alice1 = await TestSocket.as(t, url, alice)
  const alice2 = await TestSocket.as(t, url, alice)
  const bob1 = await TestSocket.as(t, url, bob)
  const carol1 = await TestSocket.as(t, url, carol)

  alice1.send({ type: 'typing', payload: { room_id: room } })
  const seen = await bob1.next(isTyping, 'typing on bob\'s socket')
  t.same(seen.payload, { room_id: room, user_id: alice.id, username: 'alice' }, 'who is typing where')

  // Barrier: a message sent after the typing event reaches everyone after it would have.
  alice1.send({ type: 'message:send', payload: { room_id: room, content: 'barrier' } })
  await Promise.all([alice1.message('barrier'), alice2.message('barrier'), bob1.message('barrier')])
  t.same(alice1.all(isTyping), [], 'not echoed to the typing socket')
  t.same(alice2.all(isTyping), [], 'nor to the typer\'s other sockets')
  t.same(carol1.all(isTyping), [], 'nor to a non-member')

  carol1.send({ type: 'typing', payload: { room_id: room } })
  t.match((await carol1.error()).payload, { code: 'NOT_A_MEMBER' }, 'a non-member gets 403 as an error frame')
  carol1.send({ type: 'typing', payload: { room_id: 999999 } })
  t.match((await carol1.error()).payload, { code: 'ROOM_NOT_FOUND' }, 'an unknown room: 404')
  carol1.send({ type: 'typing', payload: { room_id: 'x' } })
  t.match((await carol1.error()).payload, { code: 'VALIDATION_ERROR', error: 'room_id must be an integer' })
  carol1.send({ type: 'typing', payload: { room_id: elsewhere } })
  carol1.send({ type: 'presence:get', payload: { room_id: elsewhere } })
  await carol1.next(f => f.type === 'presence:list', 'barrier: presence:list')
  t.same(carol1.all(f => f.type === 'error').length, 3, 'typing in her own room is accepted (no error)')
  t.equal(carol1.ws.readyState, carol1.ws.OPEN, 'refused typing frames leave the socket open')

  const history = (await app.inject({ method: 'GET', url: `/api/v1/rooms/${room}/messages`, headers: bob.auth })).json<Array<{ content: string }>>()
  t.same(history.map(m => m.content), ['barrier'], 'typing stored nothing')
  const bob2 = await TestSocket.as(t, url, bob)
  bob2.send({ type: 'sync', payload: { rooms: { [room]: 0 } } })
  await bob2.next(f => f.type === 'sync:done')
  t.same(bob2.all(isTyping), [], 'and sync never replays it')
})

t.test('typing is throttled per user and room: a burst forwards far fewer events than were sent', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const rooms = [await createRoom(app, alice, 'one'), await createRoom(app, alice, 'two')]
  for (const room of rooms) await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: bob.auth })
  const typer = await TestSocket.as(t, url, alice)
  const watcher = await TestSocket.as(t, url, bob)

  const burst = 30
  for (let i = 0; i < burst; i++) for (const room of rooms) typer.send({ type: 'typing', payload: { room_id: room } })
  typer.send({ type: 'message:send', payload: { room_id: rooms[1], content: 'barrier' } })
  await watcher.message('barrier')
  for (const room of rooms) {
    const forwarded = watcher.all(f => isTyping(f) && f.payload.room_id === room).length
    t.ok(forwarded >= 1, `room ${room}: the first typing event went through`)
    t.ok(forwarded < burst, `room ${room}: ${forwarded} of ${burst} forwarded; the rest were dropped`)
  }
  t.same(typer.all(f => f.type === 'error'), [], 'dropped silently: no error frames')
})

t.test('Throttle: one event per key per interval', async t => {
  const throttle = new Throttle(TYPING_INTERVAL_MS)
  t.ok(throttle.allow('1:1', 0), 'the first goes')
  t.notOk(throttle.allow('1:1', TYPING_INTERVAL_MS - 1), 'within the interval: dropped')
  t.ok(throttle.allow('1:2', 1), 'another room is counted apart')
  t.ok(throttle.allow('2:1', 1), 'another user too')
  t.ok(throttle.allow('1:1', TYPING_INTERVAL_MS), 'after the interval: goes again')
  throttle.prune(10 * TYPING_INTERVAL_MS)
  t.ok(throttle.allow('1:1', 10 * TYPING_INTERVAL_MS), 'pruned keys start afresh')
  t.notOk(throttle.allow('1:1', 10 * TYPING_INTERVAL_MS + 1))
})
