import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { sendMessage } from '../../../src/chat/messages.js'
import { build, createRoom, type Session, signUp } from '../../helper.js'
import { type Frame, listen, TestSocket } from '../../ws-client.js'

async function post (app: FastifyInstance, user: Session, payload: Record<string, unknown>): Promise<{ status: number, body: any }> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload })
  return { status: response.statusCode, body: response.json() }
}

const inRoom = (roomId: number) => (f: Frame): boolean => f.type === 'message:new' && f.payload.room_id === roomId

t.test('seq, client_msg_id and sync', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await signUp(app)
  const bob = await signUp(app)

  await t.test('seq is gap-free and strictly increasing per room, even for concurrent sends', async t => {
    const rooms = [await createRoom(app, alice, 'seq one'), await createRoom(app, alice, 'seq two')]
    const watcher = await TestSocket.as(t, url, alice)
    const sends = Array.from({ length: 40 }, (_, i) => post(app, alice, { room_id: rooms[i % 2], content: `c${i}` }))
    const results = await Promise.all(sends)
    t.same([...new Set(results.map(r => r.status))], [201])
    for (const room of rooms) {
      const seqs = results.filter(r => r.body.room_id === room).map(r => r.body.seq as number).sort((a, b) => a - b)
      t.same(seqs, Array.from({ length: 20 }, (_, i) => i + 1), `room ${room}: 1..20, each once`)
      const history = (await app.inject({ method: 'GET', url: `/api/v1/rooms/${room}/messages?limit=100`, headers: alice.auth })).json<Array<{ id: number, seq: number }>>()
      t.same(history.map(m => m.seq), seqs, 'history carries seq, in order')
      const byId = [...history].sort((a, b) => a.id - b.id).map(m => m.seq)
      t.same(byId, seqs, 'a later message never has a smaller seq')
    }
    await watcher.next(f => f.type === 'message:new' && f.payload.room_id === rooms[1] && f.payload.seq === 20, 'the last live message')
    t.equal(watcher.all(f => f.type === 'message:new').length, 40)
    t.ok(watcher.all(f => f.type === 'message:new').every(f => Number.isInteger(f.payload.seq)), 'message:new carries seq')
  })

  await t.test('client_msg_id over REST: a retry returns the original (200) and pushes nothing new', async t => {
    const room = await createRoom(app, alice, 'idempotent rest')
    const socket = await TestSocket.as(t, url, alice)
    const first = await post(app, alice, { room_id: room, content: 'once', client_msg_id: 'rest-1' })
    t.equal(first.status, 201)
    t.equal(first.body.client_msg_id, 'rest-1')
    const retry = await post(app, alice, { room_id: room, content: 'once', client_msg_id: 'rest-1' })
    t.equal(retry.status, 200, 'a retry answers 200')
    t.same(retry.body, first.body, 'with the original message')

    const racing = await Promise.all(Array.from({ length: 6 }, () => post(app, alice, { room_id: room, content: 'raced', client_msg_id: 'rest-2' })))
    t.equal(racing.filter(r => r.status === 201).length, 1, 'concurrent copies: exactly one is stored')
    t.equal(racing.filter(r => r.status === 200).length, 5)
    t.equal(new Set(racing.map(r => r.body.id)).size, 1, 'all answer the same message')

    const reused = await post(app, alice, { room_id: room, content: 'something else', client_msg_id: 'rest-1' })
    t.equal(reused.status, 409)
    t.equal(reused.body.code, 'CLIENT_MSG_ID_REUSED')
    await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: bob.auth })
    t.equal((await post(app, bob, { room_id: room, content: 'once', client_msg_id: 'rest-1' })).status, 201, 'ids are per user: bob may use the same one')

    await post(app, alice, { room_id: room, content: 'barrier' })
    await socket.message('barrier')
    t.equal(socket.all(f => f.payload?.content === 'once').length, 2, 'alice\'s once (one push, not two) and bob\'s')
    t.equal(socket.all(f => f.payload?.content === 'raced').length, 1, 'the raced send was pushed once')
    const history = (await app.inject({ method: 'GET', url: `/api/v1/rooms/${room}/messages`, headers: alice.auth })).json<Array<{ content: string, seq: number }>>()
    t.same(history.map(m => m.content), ['once', 'raced', 'once', 'barrier'])
    t.same(history.map(m => m.seq), [1, 2, 4, 5], 'refused and replayed sends used no sequence numbers (3 is bob\'s member:joined)')

    const tooLong = await post(app, alice, { room_id: room, content: 'x', client_msg_id: 'x'.repeat(65) })
    t.equal(tooLong.status, 400)
    t.match(tooLong.body.error, /client_msg_id/)
  })

  await t.test('client_msg_id over WebSocket: a retried message:send is stored and pushed once', async t => {
    const room = await createRoom(app, alice, 'idempotent ws')
    const socket = await TestSocket.as(t, url, alice)
    const frame = { type: 'message:send', payload: { room_id: room, content: 'ws once', client_msg_id: 'ws-1' } }
    socket.send(frame)
    const original = await socket.message('ws once')
    t.equal(original.payload.client_msg_id, 'ws-1', 'the sender can match its message:new to its send')
    socket.send(frame)
    socket.send({ type: 'message:send', payload: { room_id: room, content: 'after the retry' } })
    await socket.message('after the retry')
    t.equal(socket.all(f => f.payload?.content === 'ws once').length, 1, 'the retry pushed nothing')
    t.same(socket.all(f => f.type === 'error'), [], 'and is not an error')
    const overRest = await post(app, alice, { room_id: room, content: 'ws once', client_msg_id: 'ws-1' })
    t.equal(overRest.status, 200, 'the same id over REST finds the WebSocket send')
    t.equal(overRest.body.id, original.payload.id)
  })

  await t.test('sync after a reconnect: what was missed, in order, then live, with no gap and no duplicate', async t => {
    const room = await createRoom(app, alice, 'sync')
    await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: bob.auth })
    const first = await TestSocket.as(t, url, alice)
    for (let i = 0; i < 3; i++) await post(app, bob, { room_id: room, content: `before ${i}` })
    const lastSeen = (await first.message('before 2')).payload.seq as number
    first.ws.close()
    await first.closed

    for (let i = 0; i < 15; i++) await post(app, bob, { room_id: room, content: `while away ${i}` })
    const again = await TestSocket.as(t, url, alice)
    // Live sends keep coming while the catch-up runs.
    const live = Array.from({ length: 20 }, (_, i) => post(app, bob, { room_id: room, content: `live ${i}` }))
    again.send({ type: 'sync', payload: { rooms: { [room]: lastSeen } } })
    const statuses = await Promise.all(live)
    const lastSeq = Math.max(...statuses.map(s => s.body.seq as number))
    t.equal(lastSeq, lastSeen + 35)
    await again.next(f => inRoom(room)(f) && f.payload.seq === lastSeq, 'the last live message')
    const done = await again.next(f => f.type === 'sync:done', 'sync:done')
    t.ok(done.payload.rooms[room] >= lastSeen + 15, 'sync:done names the room and how far the catch-up went')
    const seqs = again.all(inRoom(room)).map(f => f.payload.seq as number)
    const expected = Array.from({ length: 35 }, (_, i) => lastSeen + 1 + i)
    t.same([...seqs].sort((a, b) => a - b), expected, 'every missed and live message exactly once')
    const missedPart = again.all(f => inRoom(room)(f) && String(f.payload.content).startsWith('while away')).map(f => f.payload.seq as number)
    t.same(missedPart, expected.slice(0, 15), 'the missed ones arrive in order')
    // (Live messages from racing sends may arrive out of seq order; clients order by seq.)
  })

  await t.test('a message that arrived live before the sync is not sent again by it', async t => {
    const room = await createRoom(app, alice, 'sync dedupe')
    const socket = await TestSocket.as(t, url, alice)
    const a = await post(app, alice, { room_id: room, content: 'm1' })
    await socket.message('m1')
    await post(app, alice, { room_id: room, content: 'm2' })
    await socket.message('m2')
    socket.send({ type: 'sync', payload: { rooms: { [room]: 0 } } })
    const done = await socket.next(f => f.type === 'sync:done')
    t.same(done.payload, { rooms: { [room]: 2 } })
    t.same(socket.all(inRoom(room)).map(f => f.payload.seq), [1, 2], 'm1 and m2 once each')
    t.equal(a.body.seq, 1)
    await post(app, alice, { room_id: room, content: 'm3' })
    t.equal((await socket.message('m3')).payload.seq, 3, 'live continues after the sync')
  })

  await t.test('sync refuses rooms per entry and still finishes; it subscribes rooms joined over REST meanwhile', async t => {
    const mine = await createRoom(app, alice, 'mine')
    const bobs = await createRoom(app, bob, 'bob only')
    const later = await createRoom(app, bob, 'joined later')
    const socket = await TestSocket.as(t, url, alice)
    await app.inject({ method: 'POST', url: `/api/v1/rooms/${later}/join`, headers: alice.auth })
    socket.send({ type: 'sync', payload: { rooms: { [mine]: 0, [bobs]: 0, 999999: 0, [later]: 0 } } })
    const errors = [await socket.error(), await socket.error()]
    t.same(errors.map(e => e.payload).sort((x, y) => x.room_id - y.room_id), [
      { error: 'You are not a member of this room', code: 'NOT_A_MEMBER', room_id: bobs },
      { error: 'Room not found', code: 'ROOM_NOT_FOUND', room_id: 999999 }
    ].sort((x, y) => x.room_id - y.room_id))
    t.same((await socket.next(f => f.type === 'sync:done')).payload, { rooms: { [mine]: 0, [later]: 1 } }, 'later\'s feed: alice\'s member:joined at 1')
    t.match(socket.all(f => f.type === 'member:joined' && f.payload.room_id === later), [{ payload: { seq: 1, user: { id: alice.id } } }], 'her live member:joined, not repeated by the sync')
    await post(app, bob, { room_id: later, content: 'now you hear me' })
    t.ok(await socket.message('now you hear me'), 'the room joined over REST after connecting is live on this socket now')

    socket.send({ type: 'sync', payload: { rooms: { abc: 1 } } })
    t.match((await socket.error()).payload, { code: 'VALIDATION_ERROR', error: 'rooms has an unknown field "abc"' })
    socket.send({ type: 'sync', payload: { rooms: { 0: 1 } } })
    t.match((await socket.error()).payload, { code: 'VALIDATION_ERROR' })
    socket.send({ type: 'sync', payload: { rooms: { [mine]: -1 } } })
    t.match((await socket.error()).payload, { code: 'VALIDATION_ERROR' })
  })

  await t.test('over 1,000 messages behind: sync:reset; exactly 1,000: caught up', async t => {
    const room = await createRoom(app, alice, 'far behind')
    for (let i = 1; i <= 1001; i++) await sendMessage(app, alice.id, { room_id: room, content: `bulk ${i}` })
    const socket = await TestSocket.as(t, url, alice)
    socket.send({ type: 'sync', payload: { rooms: { [room]: 0 } } })
    t.same(await socket.next(f => f.type === 'sync:reset' || f.type === 'message:new'), { type: 'sync:reset', payload: { room_id: room } }, '1,001 missing: reset, nothing sent')
    t.same((await socket.next(f => f.type === 'sync:done')).payload, { rooms: {} })

    socket.send({ type: 'sync', payload: { rooms: { [room]: 1 } } })
    t.same((await socket.next(f => f.type === 'sync:done')).payload, { rooms: { [room]: 1001 } })
    const seqs = socket.all(inRoom(room)).map(f => f.payload.seq)
    t.same(seqs, Array.from({ length: 1000 }, (_, i) => i + 2), '1,000 missing: all of them, in order')
    t.equal(socket.ws.readyState, socket.ws.OPEN, 'a catch-up of 1,000 messages is paced, not a slow-consumer close')
  })
})
