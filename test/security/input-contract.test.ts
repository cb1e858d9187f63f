import t from 'tap'
import { build, createRoom, json, signUp } from '../helper.js'
import { listen, TestSocket } from '../ws-client.js'

/**
 * One input contract for REST bodies and WebSocket payloads (CONTRACT.md, "Rules the seed leaves
 * open"): the same hostile `message:send` payload, sent as `POST /api/v1/messages` and as a
 * frame, gets the same sentence and code, and changes nothing.
 */

const app = await build(t)
const url = await listen(app)
const alice = await signUp(app)
const room = await createRoom(app, alice, 'contract')
const socket = await TestSocket.as(t, url, alice)

const refused: Array<[string, string, { error: string, code: string }]> = [
  ['room_id as a string', `{"room_id":"${room}","content":"x"}`, { error: 'room_id must be an integer', code: 'VALIDATION_ERROR' }],
  ['room_id as true', '{"room_id":true,"content":"x"}', { error: 'room_id must be an integer', code: 'VALIDATION_ERROR' }],
  ['room_id as a one-item list', `{"room_id":[${room}],"content":"x"}`, { error: 'room_id must be an integer', code: 'VALIDATION_ERROR' }],
  ['room_id as a fraction', '{"room_id":1.5,"content":"x"}', { error: 'room_id must be an integer', code: 'VALIDATION_ERROR' }],
  ['room_id zero', '{"room_id":0,"content":"x"}', { error: 'room_id must be a positive integer', code: 'VALIDATION_ERROR' }],
  ['room_id past int32', '{"room_id":2147483648,"content":"x"}', { error: 'room_id must be at most 2147483647', code: 'VALIDATION_ERROR' }],
  ['room_id missing', '{"content":"x"}', { error: 'room_id is required', code: 'VALIDATION_ERROR' }],
  ['content as a number', `{"room_id":${room},"content":5}`, { error: 'content must be a string', code: 'VALIDATION_ERROR' }],
  ['content as null', `{"room_id":${room},"content":null}`, { error: 'content must be a string', code: 'VALIDATION_ERROR' }],
  ['content empty', `{"room_id":${room},"content":""}`, { error: 'content must not be empty', code: 'VALIDATION_ERROR' }],
  ['content blank', `{"room_id":${room},"content":"  \\n "}`, { error: 'content must not be empty', code: 'VALIDATION_ERROR' }],
  ['content with NUL', `{"room_id":${room},"content":"a\\u0000b"}`, { error: 'content must not contain NUL characters', code: 'VALIDATION_ERROR' }],
  ['content too long', `{"room_id":${room},"content":"${'x'.repeat(4001)}"}`, { error: 'content must be at most 4000 characters', code: 'VALIDATION_ERROR' }],
  ['client_msg_id as a number', `{"room_id":${room},"content":"x","client_msg_id":7}`, { error: 'client_msg_id must be a string', code: 'VALIDATION_ERROR' }],
  ['client_msg_id too long', `{"room_id":${room},"content":"x","client_msg_id":"${'c'.repeat(65)}"}`, { error: 'client_msg_id must be at most 64 characters', code: 'VALIDATION_ERROR' }],
  ['a __proto__ key', `{"room_id":${room},"content":"x","__proto__":{"user_id":1}}`, { error: '"__proto__" and "constructor.prototype" are not allowed as keys', code: 'FORBIDDEN_KEY' }],
  ['a constructor.prototype key', `{"room_id":${room},"content":"x","constructor":{"prototype":{"role":"admin"}}}`, { error: '"__proto__" and "constructor.prototype" are not allowed as keys', code: 'FORBIDDEN_KEY' }],
  ['a room that does not exist', '{"room_id":424242,"content":"x"}', { error: 'Room not found', code: 'ROOM_NOT_FOUND' }]
]

async function count (): Promise<number> {
  const history = await app.inject({ url: `/api/v1/rooms/${room}/messages?limit=100`, headers: alice.auth })
  return json<unknown[]>(history).length
}

t.test('a refused payload gets the same answer over REST and over WebSocket, and stores nothing', async t => {
  const before = await count()
  for (const [name, payload, expected] of refused) {
    const rest = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: { ...alice.auth, 'content-type': 'application/json' }, payload })
    t.equal(rest.statusCode, expected.code === 'ROOM_NOT_FOUND' ? 404 : 400, `${name}: REST status`)
    t.same(json(rest), expected, `${name}: REST body`)
    socket.send(`{"type":"message:send","payload":${payload}}`)
    const frame = await socket.error()
    t.same(frame.payload, json(rest), `${name}: the error frame says the same`)
  }
  t.equal(await count(), before, 'nothing was stored')
  t.equal(socket.ws.readyState, socket.ws.OPEN, 'the socket stayed open')
})

t.test('fields the schema does not name are ignored on both, and never change who sent it', async t => {
  const mallory = await signUp(app)
  const extra = { foo: 1, user_id: mallory.id, id: 99, seq: 1000, username: 'admin', role: 'admin' }
  const rest = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: 'rest extra', ...extra } })
  t.equal(rest.statusCode, 201, 'REST: stored')
  socket.send({ type: 'message:send', payload: { room_id: room, content: 'ws extra', ...extra } })
  const frame = await socket.message('ws extra')
  for (const message of [json(rest), frame.payload]) {
    t.equal(message.user_id, alice.id, `${String(message.content)}: sent as alice`)
    t.equal(message.username, alice.username)
    t.not(message.id, 99)
    t.notOk('foo' in message)
  }
})

t.test('query strings and path ids are still read from text, in plain decimal only', async t => {
  const ok = await app.inject({ url: `/api/v1/rooms/${room}/messages?limit=2&offset=0`, headers: alice.auth })
  t.equal(ok.statusCode, 200, 'limit=2 is read as a number')
  for (const id of ['0x1', '1e0', '+1', '01', '1.0', '%201', '-1', '0']) {
    const res = await app.inject({ url: `/api/v1/rooms/${id}/messages`, headers: alice.auth })
    t.equal(res.statusCode, 400, `/rooms/${id}/messages: 400`)
    t.match(json(res), { code: 'VALIDATION_ERROR', error: /^id must be/ }, `${id}: names the id`)
  }
  for (const query of ['limit=0x2', 'limit=2e0', 'offset=+1', 'offset=01', 'limit=%202']) {
    const res = await app.inject({ url: `/api/v1/rooms/${room}/messages?${query}`, headers: alice.auth })
    t.equal(res.statusCode, 400, `?${query}: 400`)
    t.match(json(res).error, /^(limit|offset) must be/, `?${query}: names the parameter`)
  }
})
