import t from 'tap'
import { build, signUp } from '../../helper.js'
import { handMadeJwt, listen, refusedUpgrade, TestSocket } from '../../ws-client.js'

/** The key testConfig() signs with: a token made with it and the right claims would be accepted. */
const SECRET = 'test-secret-that-is-at-least-32-characters-long'

function claims (userId: number, expiresInSeconds: number): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return { sub: String(userId), role: 'user', iss: 'chat-app', aud: 'chat-app', iat: now - 120, exp: now + expiresInSeconds }
}

t.test('the upgrade needs a valid token, from ?token=, Authorization or the subprotocol', async t => {
  const app = await build(t)
  const url = await listen(app)
  const user = await signUp(app)

  await t.test('no token: 401 before any socket opens', async t => {
    const refused = await refusedUpgrade(url)
    t.equal(refused.status, 401)
    t.match(JSON.parse(refused.body), { error: 'Missing or invalid authentication token' })
  })

  await t.test('a forged token (signed with another key): 401', async t => {
    const forged = handMadeJwt(claims(user.id, 60), 'another-secret-that-is-at-least-32-characters')
    t.equal((await refusedUpgrade(`${url}?token=${forged}`)).status, 401)
    t.equal((await refusedUpgrade(url, { headers: { authorization: `Bearer ${forged}` } })).status, 401)
    t.equal((await refusedUpgrade(url, { protocols: ['bearer', forged] })).status, 401)
  })

  await t.test('an expired token: 401', async t => {
    const expired = handMadeJwt(claims(user.id, -60), SECRET)
    t.equal((await refusedUpgrade(`${url}?token=${expired}`)).status, 401)
  })

  await t.test('a token with alg none: 401', async t => {
    const unsigned = handMadeJwt(claims(user.id, 60), undefined)
    t.equal((await refusedUpgrade(`${url}?token=${unsigned}`)).status, 401)
  })

  await t.test('a hand-made token with the right key and claims is accepted (so the refusals above are about the token)', async t => {
    const socket = await TestSocket.open(t, url, { token: handMadeJwt(claims(user.id, 60), SECRET) })
    t.equal(socket.ws.readyState, socket.ws.OPEN)
  })

  await t.test('token in ?token=', async t => {
    const socket = await TestSocket.open(t, url, { token: user.token })
    t.equal(socket.ws.readyState, socket.ws.OPEN)
  })

  await t.test('token in Authorization: Bearer', async t => {
    const socket = await TestSocket.open(t, url, { ws: { headers: { authorization: `Bearer ${user.token}` } } })
    t.equal(socket.ws.readyState, socket.ws.OPEN)
  })

  await t.test('token as the subprotocols "bearer, <token>": the server picks "bearer", never echoes the token', async t => {
    const socket = await TestSocket.open(t, url, { protocols: ['bearer', user.token] })
    t.equal(socket.ws.protocol, 'bearer')
  })

  await t.test('the socket is authenticated as its user: a message it sends names that user', async t => {
    const room = (await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: user.auth, payload: { name: 'auth' } })).json<{ id: number }>()
    const socket = await TestSocket.open(t, url, { protocols: ['bearer', user.token] })
    socket.send({ type: 'message:send', payload: { room_id: room.id, content: 'who am i' } })
    const frame = await socket.message('who am i')
    t.equal(frame.payload.user_id, user.id)
    t.equal(frame.payload.username, user.username)
  })

  await t.test('a plain GET /ws (no upgrade) is told to upgrade: 426', async t => {
    const response = await app.inject({ method: 'GET', url: '/ws', headers: user.auth })
    t.equal(response.statusCode, 426)
    t.equal(response.headers.upgrade, 'websocket')
    t.equal(response.json().code, 'UPGRADE_REQUIRED')
  })
})

t.test('in production, a browser page must come from an allowed origin', async t => {
  const app = await build(t, { env: { ENVIRONMENT: 'production', CORS_ORIGINS: 'https://chat.example.com' } })
  const url = await listen(app)
  const user = await signUp(app)

  const refused = await refusedUpgrade(`${url}?token=${user.token}`, { headers: { origin: 'https://evil.example.net' } })
  t.equal(refused.status, 403)
  t.equal(JSON.parse(refused.body).code, 'ORIGIN_NOT_ALLOWED')

  const allowed = await TestSocket.open(t, url, { token: user.token, ws: { origin: 'https://chat.example.com' } })
  t.equal(allowed.ws.readyState, allowed.ws.OPEN, 'an allowed origin connects')
  const native = await TestSocket.open(t, url, { token: user.token })
  t.equal(native.ws.readyState, native.ws.OPEN, 'a client without an Origin header (not a browser) connects')
})
