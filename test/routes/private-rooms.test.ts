import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { build, createRoom, fixtureUser, joinRoom, sendAs, type Session } from '../helper.js'
import { type Frame, listen, TestSocket } from '../ws-client.js'

// A private room is invisible to anyone neither a member nor invited (CONTRACT.md Part 2, "Rooms"):
// every read path answers exactly what it answers for an id that does not exist — 404
// ROOM_NOT_FOUND, and 404 MESSAGE_NOT_FOUND on the message routes — for a user who never joined,
// a site admin who is not a member, and a member who left, re-checked at the time of each read
// (membership is read when the request or frame is handled, never remembered).

const MISSING = 2147483647
const EMOJI = encodeURIComponent('👍')

interface Answer { statusCode: number, body: any, raw: string }

async function call (app: FastifyInstance, user: Session, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object): Promise<Answer> {
  const response = await app.inject({ method, url, headers: user.auth, ...(payload === undefined ? {} : { payload }) })
  return { statusCode: response.statusCode, body: response.body === '' ? undefined : response.json(), raw: response.body }
}

interface Probe { name: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: (room: number, message: number) => string, body?: (room: number) => object, code: string }

/** Every REST route that reads or changes a room or a message (the routes of members, invites and bans have their own tests). */
const probes: Probe[] = [
  { name: 'GET /rooms/{id}', method: 'GET', url: room => `/api/v1/rooms/${room}`, code: 'ROOM_NOT_FOUND' },
  { name: 'GET /rooms/{id}/messages (history)', method: 'GET', url: room => `/api/v1/rooms/${room}/messages`, code: 'ROOM_NOT_FOUND' },
  { name: 'GET /rooms/{id}/events', method: 'GET', url: room => `/api/v1/rooms/${room}/events?after=0`, code: 'ROOM_NOT_FOUND' },
  { name: 'POST /rooms/{id}/read', method: 'POST', url: room => `/api/v1/rooms/${room}/read`, body: () => ({ seq: 1 }), code: 'ROOM_NOT_FOUND' },
  { name: 'POST /messages', method: 'POST', url: () => '/api/v1/messages', body: room => ({ room_id: room, content: 'let me in' }), code: 'ROOM_NOT_FOUND' },
  { name: 'POST /rooms/{id}/join', method: 'POST', url: room => `/api/v1/rooms/${room}/join`, code: 'ROOM_NOT_FOUND' },
  { name: 'POST /rooms/{id}/leave', method: 'POST', url: room => `/api/v1/rooms/${room}/leave`, code: 'ROOM_NOT_FOUND' },
  { name: 'PATCH /rooms/{id}', method: 'PATCH', url: room => `/api/v1/rooms/${room}`, body: () => ({ name: 'taken over' }), code: 'ROOM_NOT_FOUND' },
  { name: 'GET /messages/{id}/replies', method: 'GET', url: (_, message) => `/api/v1/messages/${message}/replies`, code: 'MESSAGE_NOT_FOUND' },
  { name: 'PATCH /messages/{id}', method: 'PATCH', url: (_, message) => `/api/v1/messages/${message}`, body: () => ({ content: 'rewritten' }), code: 'MESSAGE_NOT_FOUND' },
  { name: 'PUT /messages/{id}/reactions/{emoji}', method: 'PUT', url: (_, message) => `/api/v1/messages/${message}/reactions/${EMOJI}`, code: 'MESSAGE_NOT_FOUND' },
  { name: 'DELETE /messages/{id}/reactions/{emoji}', method: 'DELETE', url: (_, message) => `/api/v1/messages/${message}/reactions/${EMOJI}`, code: 'MESSAGE_NOT_FOUND' },
  { name: 'DELETE /messages/{id}', method: 'DELETE', url: (_, message) => `/api/v1/messages/${message}`, code: 'MESSAGE_NOT_FOUND' },
  { name: 'DELETE /rooms/{id}', method: 'DELETE', url: room => `/api/v1/rooms/${room}`, code: 'ROOM_NOT_FOUND' }
]
/** What a site admin may do in any room (delete a message, delete the room): not probed for admins. */
const ADMIN_MAY = new Set(['DELETE /messages/{id}', 'DELETE /rooms/{id}'])

/** Every probe, for the private room and for ids that do not exist: each must be 404 and the same body. */
async function expectInvisible (t: Test, app: FastifyInstance, user: Session, room: number, message: number, who: string): Promise<void> {
  for (const probe of probes) {
    if (who.includes('admin') && ADMIN_MAY.has(probe.name)) continue
    const asked = await call(app, user, probe.method, probe.url(room, message), probe.body?.(room))
    const missing = await call(app, user, probe.method, probe.url(MISSING, MISSING), probe.body?.(MISSING))
    t.equal(asked.statusCode, 404, `${who}: ${probe.name} is 404`)
    t.equal(asked.body?.code, probe.code, `${who}: ${probe.name} says ${probe.code}`)
    t.equal(asked.raw, missing.raw, `${who}: ${probe.name} answers byte for byte as for an id that does not exist`)
  }
}

/** What a socket answers, for the room, to every frame that names one: the `error` frame of each (undefined where it was accepted). */
async function wsAnswers (socket: TestSocket, room: number): Promise<Record<string, any>> {
  const answers: Record<string, any> = {}
  const ask = async (name: string, frame: object, settle: (f: Frame) => boolean, answered = false): Promise<void> => {
    const before = socket.received.length
    socket.send(frame)
    // A presence:get of a room the user may read is the barrier: every earlier frame of this socket has been answered.
    socket.send({ type: 'presence:get', payload: { room_id: barrierRoom } })
    await socket.next(f => f.type === 'presence:list' && f.payload.room_id === barrierRoom, `barrier after ${name}`)
    const answerOf = (f: Frame): boolean => f.type === 'error' || settle(f)
    // All but a send: a send's turn ends once it is queued (README "WebSocket"), so its answer may
    // come after the barrier's. It is waited for (it always comes: its message:new or its error).
    if (answered) {
      while (!socket.received.slice(before).some(answerOf)) await socket.next(() => true, `the answer to ${name}`)
    }
    const answer = socket.received.slice(before).find(answerOf)
    answers[name] = answer?.type === 'error' ? answer.payload : answer?.type
  }
  await ask('sync', { type: 'sync', payload: { rooms: { [room]: 0 } } }, f => f.type === 'sync:done')
  await ask('presence:get', { type: 'presence:get', payload: { room_id: room } }, f => f.type === 'presence:list' && f.payload.room_id === room)
  await ask('typing', { type: 'typing', payload: { room_id: room } }, () => false)
  await ask('typing again at once', { type: 'typing', payload: { room_id: room } }, () => false)
  await ask('message:send', { type: 'message:send', payload: { room_id: room, content: 'over the socket' } }, f => f.type === 'message:new' && f.payload.room_id === room, true)
  await ask('room:join', { type: 'room:join', payload: { room_id: room } }, f => f.type === 'room:joined')
  return answers
}
let barrierRoom = 0

t.test('a private room answers every route and frame as a missing id does, to each user who may not see it', async t => {
  const app = await build(t, { env: { AUTH_CACHE_SECONDS: '0' } })
  const url = await listen(app)
  const owner = await fixtureUser(app)
  const member = await fixtureUser(app)
  const leaver = await fixtureUser(app)
  const outsider = await fixtureUser(app)
  const admin = await fixtureUser(app)
  await sql`update users set role = 'admin' where id = ${admin.id}`.execute(app.db)

  const hidden = (await call(app, owner, 'POST', '/api/v1/rooms', { name: 'hidden', is_private: true })).body.id as number
  for (const user of [member, leaver]) await sql`insert into room_invites (room_id, user_id, invited_by) values (${hidden}, ${user.id}, ${owner.id})`.execute(app.db)
  for (const user of [member, leaver]) await joinRoom(app, user, hidden)
  const root = await sendAs(app, owner, hidden, 'the root')
  await call(app, member, 'POST', '/api/v1/messages', { room_id: hidden, content: 'a reply', reply_to: root.id })
  await call(app, member, 'PUT', `/api/v1/messages/${root.id}/reactions/${EMOJI}`)
  // A room everyone is in: the barrier of the socket probes.
  barrierRoom = await createRoom(app, owner, 'lobby')
  for (const user of [member, leaver, outsider, admin]) await joinRoom(app, user, barrierRoom)

  await t.test('members: every route answers (the probes reach something)', async t => {
    t.equal((await call(app, member, 'GET', `/api/v1/rooms/${hidden}`)).statusCode, 200)
    t.equal((await call(app, member, 'GET', `/api/v1/rooms/${hidden}/messages`)).body.length, 2)
    t.equal((await call(app, member, 'GET', `/api/v1/rooms/${hidden}/events`)).statusCode, 200)
    t.equal((await call(app, member, 'POST', `/api/v1/rooms/${hidden}/read`, { seq: 1 })).statusCode, 200)
    t.equal((await call(app, member, 'GET', `/api/v1/messages/${root.id}/replies`)).body.length, 1)
    t.match(await call(app, member, 'PATCH', `/api/v1/messages/${root.id}`, { content: 'mine?' }), { statusCode: 403, body: { code: 'NOT_AUTHOR' } }, 'found, then refused')
    t.match(await call(app, member, 'DELETE', `/api/v1/messages/${root.id}`), { statusCode: 403, body: { code: 'NOT_ALLOWED' } })
    t.match(await call(app, member, 'PATCH', `/api/v1/rooms/${hidden}`, { name: 'x' }), { statusCode: 403, body: { code: 'NOT_ALLOWED' } })
    t.equal((await call(app, member, 'PUT', `/api/v1/messages/${root.id}/reactions/${EMOJI}`)).statusCode, 200)
    const socket = await TestSocket.as(t, url, member)
    t.same(await wsAnswers(socket, hidden), {
      sync: 'sync:done', 'presence:get': 'presence:list', typing: undefined, 'typing again at once': undefined, 'message:send': 'message:new', 'room:join': 'room:joined'
    }, 'and every frame is accepted')
  })

  const missingOverWs = await wsAnswers(await TestSocket.as(t, url, outsider), MISSING)
  const notFound = { error: 'Room not found', code: 'ROOM_NOT_FOUND' }
  t.same(missingOverWs, {
    sync: { ...notFound, room_id: MISSING }, 'presence:get': notFound, typing: notFound, 'typing again at once': notFound, 'message:send': notFound, 'room:join': notFound
  }, 'a room that does not exist: each frame refused with 404, typing too (never dropped unanswered)')

  for (const [who, user] of [['a user never invited', outsider], ['a site admin who is not a member', admin]] as const) {
    await t.test(who, async t => {
      await expectInvisible(t, app, user, hidden, root.id, who)
      const socket = await TestSocket.as(t, url, user)
      t.same(await wsAnswers(socket, hidden), { ...missingOverWs, sync: { ...notFound, room_id: hidden } }, `${who}: every frame answers as for a missing room`)
      const since = await TestSocket.open(t, `${url}?since=${hidden}:0&token=${encodeURIComponent(user.token)}`)
      t.match((await since.next(f => f.type === 'error', 'the ?since= refusal')).payload, { ...notFound, room_id: hidden }, `${who}: ?since= too`)
      t.same((await since.next(f => f.type === 'sync:done')).payload, { rooms: {} })
      t.same(socket.all(f => f.payload?.room_id === hidden && f.type !== 'error'), [], 'and nothing of the room reached the socket')
    })
  }

  await t.test('a member who leaves: every path refuses from that moment', async t => {
    const socket = await TestSocket.as(t, url, leaver)
    const watcher = await TestSocket.as(t, url, member)
    socket.send({ type: 'typing', payload: { room_id: hidden } })
    t.match((await watcher.next(f => f.type === 'typing' && f.payload.user_id === leaver.id, 'the leaver typing')).payload, { room_id: hidden }, 'typing while a member')
    t.equal((await call(app, leaver, 'GET', `/api/v1/rooms/${hidden}/messages`)).statusCode, 200, 'reading while a member')

    t.equal((await call(app, leaver, 'POST', `/api/v1/rooms/${hidden}/leave`)).statusCode, 204)
    t.same((await socket.next(f => f.type === 'room:removed', 'room:removed')).payload, { room_id: hidden, reason: 'left' })
    // Within the typing throttle's 2 seconds of the last typing: refused all the same, not dropped.
    t.same(await wsAnswers(socket, hidden), { ...missingOverWs, sync: { ...notFound, room_id: hidden } }, 'every frame refused at once, typing within its throttle included')
    await expectInvisible(t, app, leaver, hidden, root.id, 'a member who left')

    await sendAs(app, owner, hidden, 'said after she left')
    await sendAs(app, owner, barrierRoom, 'barrier')
    await socket.message('barrier')
    t.same(socket.all(f => f.type === 'message:new' && f.payload.room_id === hidden && f.payload.content === 'said after she left'), [], 'nothing said after it reaches her socket')
  })
})

t.test('a public room: non-members read nothing (403 NOT_A_MEMBER), message ids stay 404; a non-member\'s typing is refused every time', async t => {
  const app = await build(t)
  const url = await listen(app)
  const owner = await fixtureUser(app)
  const outsider = await fixtureUser(app)
  const room = await createRoom(app, owner, 'public')
  const message = await sendAs(app, owner, room, 'hello')
  t.equal((await call(app, outsider, 'GET', `/api/v1/rooms/${room}`)).statusCode, 200, 'a public room is seen by anyone')
  for (const [method, path, body] of [
    ['GET', `/api/v1/rooms/${room}/messages`], ['GET', `/api/v1/rooms/${room}/events`], ['POST', `/api/v1/rooms/${room}/read`, { seq: 1 }],
    ['POST', '/api/v1/messages', { room_id: room, content: 'x' }], ['POST', `/api/v1/rooms/${room}/leave`]
  ] as const) {
    t.match(await call(app, outsider, method, path, body), { statusCode: 403, body: { code: 'NOT_A_MEMBER' } }, `${method} ${path}`)
  }
  t.match(await call(app, outsider, 'GET', `/api/v1/messages/${message.id}/replies`), { statusCode: 404, body: { code: 'MESSAGE_NOT_FOUND' } })
  t.match(await call(app, outsider, 'PUT', `/api/v1/messages/${message.id}/reactions/${EMOJI}`), { statusCode: 404, body: { code: 'MESSAGE_NOT_FOUND' } })
  barrierRoom = await createRoom(app, outsider, 'her own')
  const socket = await TestSocket.as(t, url, outsider)
  const notAMember = { error: 'You are not a member of this room', code: 'NOT_A_MEMBER' }
  t.same(await wsAnswers(socket, room), {
    sync: { ...notAMember, room_id: room }, 'presence:get': notAMember, typing: notAMember, 'typing again at once': notAMember, 'message:send': notAMember, 'room:join': 'room:joined'
  }, 'over the socket too; room:join joins a public room')
})
