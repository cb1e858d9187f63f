import t, { type Test } from 'tap'
import { build, createRoom, json, signUp } from '../helper.js'
import { listen, refusedUpgrade, TestSocket } from '../ws-client.js'
import { claims, craftToken, HS256, now, stillHealthy } from './hostile.js'

// The WebSocket under attack: a bad token never opens a socket; a bad frame gets an `error` frame
// and the socket stays open; an oversize frame closes it (1009); nobody sends into a room they're not in.

const app = await build(t)
const url = await listen(app)
const alice = await signUp(app, { username: 'alice' })
const mallory = await signUp(app, { username: 'mallory' })
const room = await createRoom(app, alice, 'ws target')

async function refused (t: Test, label: string, options: { token?: string, headers?: Record<string, string>, protocols?: string[] }): Promise<void> {
  const target = options.token === undefined ? url : `${url}?token=${encodeURIComponent(options.token)}`
  const { status, body } = await refusedUpgrade(target, options)
  t.equal(status, 401, `${label}: 401 before any socket opens`)
  t.type(JSON.parse(body).error, 'string', `${label}: {"error"} body`)
}

/** Sends a frame and expects an `error` frame back, with the socket still open and usable. */
async function refusedFrame (t: Test, socket: TestSocket, frame: unknown, label: string): Promise<void> {
  const before = socket.all(f => f.type === 'error').length
  socket.send(frame)
  const error = await socket.next(f => f.type === 'error' && socket.all(g => g.type === 'error').length > before, `the error for ${label}`)
  t.type(error.payload.error, 'string', `${label}: an error frame with a sentence`)
  t.equal(socket.ws.readyState, socket.ws.OPEN, `${label}: the socket stays open`)
}

t.test('upgrade without a token is 401', async t => { await refused(t, 'no token', {}) })
t.test('upgrade with a garbage token is 401', async t => { await refused(t, 'garbage', { token: 'garbage' }) })
t.test('upgrade with an alg none token is 401', async t => { await refused(t, 'alg none', { token: craftToken({ alg: 'none' }, claims(alice.id), null) }) })
t.test('upgrade with an expired token is 401', async t => {
  await refused(t, 'expired', { token: craftToken(HS256, claims(alice.id, { iat: now() - 7200, exp: now() - 60 })) })
})
t.test('upgrade with a token signed by another key is 401', async t => {
  await refused(t, 'wrong key', { headers: { authorization: `Bearer ${craftToken(HS256, claims(alice.id), 'another-secret-that-is-at-least-32-characters')}` } })
})
t.test('upgrade with a bad token as the subprotocol is 401', async t => {
  await refused(t, 'subprotocol', { protocols: ['bearer', craftToken(HS256, claims(alice.id, { aud: 'elsewhere' }))] })
})

t.test('a frame over 64 KiB closes that socket with 1009, and only that one', async t => {
  const big = await TestSocket.as(t, url, alice)
  const other = await TestSocket.as(t, url, alice)
  big.send({ type: 'message:send', payload: { room_id: room, content: 'y'.repeat(65 * 1024) } })
  const { code } = await big.closed
  t.equal(code, 1009, 'message too big')
  t.equal(other.ws.readyState, other.ws.OPEN, 'the user\'s other socket is unaffected')
  const history = json<Array<{ content: string }>>(await app.inject({ url: `/api/v1/rooms/${room}/messages`, headers: alice.auth }))
  t.notOk(history.some(m => m.content.startsWith('yyyy')), 'nothing stored')
})

t.test('frames that are not JSON get an error frame; the socket stays open', async t => {
  const socket = await TestSocket.as(t, url, alice)
  for (const frame of ['not json', '{', '{"type": "message:send", ', '\u0000\u0001', '']) await refusedFrame(t, socket, frame, JSON.stringify(frame))
  socket.send({ type: 'message:send', payload: { room_id: room, content: 'still works' } })
  await socket.message('still works')
})

t.test('JSON frames that are not a {type, payload} object get an error frame', async t => {
  const socket = await TestSocket.as(t, url, alice)
  for (const frame of ['[]', '42', 'null', '"message:send"', '{}', '{"payload": {}}', '{"type": 5}']) await refusedFrame(t, socket, frame, frame)
})

t.test('an unknown frame type gets an error frame', async t => {
  const socket = await TestSocket.as(t, url, alice)
  for (const type of ['admin:promote', 'message:delete', '__proto__', 'constructor', 'MESSAGE:SEND']) await refusedFrame(t, socket, { type, payload: { room_id: room } }, type)
})

t.test('invalid payloads get an error frame naming the problem', async t => {
  const socket = await TestSocket.as(t, url, alice)
  const payloads = [
    {}, { room_id: room }, { content: 'no room' }, { room_id: 'one', content: 'x' }, { room_id: -1, content: 'x' },
    { room_id: room, content: '' }, { room_id: room, content: '   ' }, { room_id: room, content: 'x'.repeat(4001) },
    { room_id: room, content: 'nul\u0000' }, { room_id: room, content: ['array'] }, { room_id: 2 ** 53 + 2, content: 'x' }
  ]
  for (const payload of payloads) await refusedFrame(t, socket, { type: 'message:send', payload }, JSON.stringify(payload).slice(0, 50))
  await refusedFrame(t, socket, '{"type":"message:send","payload":{"room_id":1e400,"content":"x"}}', 'room_id 1e400')
  const history = json<Array<{ content: string }>>(await app.inject({ url: `/api/v1/rooms/${room}/messages?limit=100`, headers: alice.auth }))
  t.notOk(history.some(m => m.content === 'no room' || m.content.startsWith('nul')), 'none was stored')
})

t.test('sending to a room you are not a member of: an error frame, and no delivery', async t => {
  const victim = await TestSocket.as(t, url, alice)
  const attacker = await TestSocket.as(t, url, mallory)
  await refusedFrame(t, attacker, { type: 'message:send', payload: { room_id: room, content: 'injected' } }, 'not a member')
  t.match(attacker.all(f => f.type === 'error').at(-1)!.payload, { code: 'NOT_A_MEMBER' })
  victim.send({ type: 'message:send', payload: { room_id: room, content: 'marker' } })
  await victim.message('marker')
  t.notOk(victim.all(f => f.type === 'message:new' && f.payload.content === 'injected').length > 0, 'the member never got it')
  t.notOk(attacker.all(f => f.type === 'message:new').length > 0, 'and the attacker sees nothing of the room')
  const history = json<Array<{ content: string }>>(await app.inject({ url: `/api/v1/rooms/${room}/messages`, headers: alice.auth }))
  t.notOk(history.some(m => m.content === 'injected'), 'nothing was stored')
})

t.test('joining a room that does not exist over WebSocket gets an error frame', async t => {
  const socket = await TestSocket.as(t, url, mallory)
  await refusedFrame(t, socket, { type: 'room:join', payload: { room_id: 2_000_000_000 } }, 'no such room')
  await refusedFrame(t, socket, { type: 'room:join', payload: { room_id: '1 OR 1=1' } }, 'SQL in room_id')
})

t.test('__proto__ in a frame pollutes nothing', async t => {
  const socket = await TestSocket.as(t, url, alice)
  socket.send(`{"type":"message:send","payload":{"room_id":${room},"content":"proto frame","__proto__":{"user_id":${mallory.id}}},"__proto__":{"polluted":true}}`)
  const frame = await socket.next(f => (f.type === 'message:new' && f.payload.content === 'proto frame') || f.type === 'error', 'the answer to the __proto__ frame')
  if (frame.type === 'message:new') t.equal(frame.payload.user_id, alice.id, 'sent as alice')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted')
  t.equal(socket.ws.readyState, socket.ws.OPEN)
})

stillHealthy(t, app, alice)
