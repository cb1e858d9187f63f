import t from 'tap'
import { ABUSE_REFUSALS } from '../../../plugins/realtime/session.js'
import { build, signUp } from '../../helper.js'
import { handMadeJwt, listen, TestSocket } from '../../ws-client.js'

/** The key testConfig() signs with. */
const SECRET = 'test-secret-that-is-at-least-32-characters-long'

t.test('a socket that keeps sending past the rate limit is closed with 1008 after its error frame', async t => {
  const app = await build(t, { env: { RATE_LIMIT_MESSAGES: '1' } })
  const url = await listen(app)
  const alice = await signUp(app)
  const room = (await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: alice.auth, payload: { name: 'abuse' } })).json<{ id: number }>().id
  const abuser = await TestSocket.as(t, url, alice)
  const bystander = await TestSocket.as(t, url, alice)
  const send = (i: number): void => abuser.send({ type: 'message:send', payload: { room_id: room, content: `m${i}` } })

  send(0)
  await abuser.message('m0')
  for (let i = 1; i < ABUSE_REFUSALS; i++) {
    send(i)
    t.match((await abuser.error()).payload, { code: 'RATE_LIMITED' }, `refusal ${i}`)
  }
  t.equal(abuser.ws.readyState, abuser.ws.OPEN, `${ABUSE_REFUSALS - 1} refusals: still open`)
  send(ABUSE_REFUSALS)
  t.match((await abuser.error()).payload, { code: 'RATE_LIMITED' }, 'the last refusal still gets its error frame')
  const { code } = await abuser.closed
  t.equal(code, 1008, 'then the socket is closed: policy violation')
  t.equal(abuser.all(f => f.type === 'error').length, ABUSE_REFUSALS, 'one error frame per refused send, then the close')
  t.equal(bystander.ws.readyState, bystander.ws.OPEN, 'the user\'s other socket stays open')
})

t.test('other refused frames (invalid, not a member) never close the socket', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await signUp(app)
  const socket = await TestSocket.as(t, url, alice)
  const count = 3 * ABUSE_REFUSALS
  for (let i = 0; i < count; i++) socket.send(i % 2 === 0 ? 'not json' : { type: 'message:send', payload: { room_id: 999999, content: 'x' } })
  socket.send({ type: 'room:join', payload: { room_id: 999998 } })
  await socket.next(f => f.type === 'error' && f.payload.code === 'ROOM_NOT_FOUND' && socket.all(g => g.type === 'error').length === count + 1, 'the last error')
  t.equal(socket.ws.readyState, socket.ws.OPEN, `${count + 1} refused frames, still open`)
})

t.test('a socket is closed with 4401 when its token expires', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await signUp(app)
  const now = Math.floor(Date.now() / 1000)
  const shortLived = handMadeJwt({ sub: String(alice.id), role: 'user', iss: 'chat-app', aud: 'chat-app', iat: now, exp: now + 4 }, SECRET)
  const expiring = await TestSocket.open(t, url, { token: shortLived })
  const lasting = await TestSocket.as(t, url, alice)
  t.equal(expiring.ws.readyState, expiring.ws.OPEN, 'open while the token is valid')
  const { code } = await expiring.closed
  t.equal(code, 4401, 'closed with 4401 once exp passed')
  t.ok(Date.now() / 1000 >= now + 4 - 1, 'not before the token expired')
  t.equal(lasting.ws.readyState, lasting.ws.OPEN, 'a socket with a valid token stays open')
})
